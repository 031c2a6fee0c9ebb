"""The probe module (one provider per platform) and the board's WiFi/LED logic.

CPython providers are tested in-process. The MicroPython ones run in the real
unix port with small fake `machine`, `network`, `esp32` and `neopixel`
modules written by the test (controlled through a `fake` module), so each
platform's code path and each missing or failing API can be exercised
without a board: a missing API gives null, never an exception.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, runtime_command

DEVICE = REPO / "device"
STUBS = REPO / "tools" / "vboard_stubs"

sys.path.insert(0, str(DEVICE))
import probe  # noqa: E402


# -- CPython: the simulated board ----------------------------------------------
def test_cpython_provider_has_every_value_in_order():
    p = probe.get({"board": "bench", "hostname": "dev"})
    data = p.read()
    assert list(data) == list(probe.KEYS)
    assert [k for k, v in data.items() if v is None] == []
    assert data["board"] == "bench" and data["hostname"] == "dev"
    assert data["platform"] == "cpython" and data["simulated"] is True
    assert data["heap_used"] + data["heap_free"] == data["heap_total"]


def test_cpython_simulation_moves_but_stays_plausible():
    p = probe.get({})
    readings = [p.read() for _ in range(200)]
    heap = [r["heap_used"] for r in readings]
    rssi = [r["rssi_dbm"] for r in readings]
    temp = [r["temp_c"] for r in readings]
    assert len(set(heap)) > 50 and max(heap) < readings[0]["heap_total"]
    assert min(heap) < max(heap) - 10000  # it is collected, not only growing
    assert all(-80 <= r <= -45 for r in rssi) and len(set(rssi)) > 3
    assert all(35 < t < 50 for t in temp)
    assert all(r["heap_used"] + r["heap_free"] == r["heap_total"] for r in readings)


def test_failing_value_is_null_and_memory_error_is_not_hidden():
    class Broken(probe.Probe):
        def cpu_hz(self):
            raise OSError("no clock")

        def temp_c(self):
            return 1 / 0

        def machine(self):
            return "x"

        def board(self):
            return "b"

    data = Broken({}).read()
    assert data["cpu_hz"] is None and data["temp_c"] is None
    # On CPython the MicroPython-only APIs (gc.mem_free, network, ...) are absent:
    # the base provider gives null for them instead of raising.
    assert data["heap_free"] is None and data["wifi_ssid"] is None and data["mac"] is None
    assert data["board"] == "b"

    class Exhausted(Broken):
        def heap_free(self):
            raise MemoryError

    with pytest.raises(MemoryError):
        Exhausted({}).read()


def test_uptime_survives_tick_wraparound(monkeypatch):
    # MicroPython's ticks_ms wraps at 2**30 ms; uptime accumulates differences.
    period = 1 << 30
    now = [period - 1500]
    monkeypatch.setattr(probe, "_ticks_ms", lambda: now[0] % period)
    monkeypatch.setattr(
        probe, "_ticks_diff", lambda a, b: ((a - b + period // 2) % period) - period // 2
    )
    p = probe.Probe({})
    start = p.uptime_s()
    for _ in range(5):
        now[0] += 1000
        p.uptime_s()
    assert p.uptime_s() - start == 5


# -- MicroPython, with fake hardware modules ------------------------------------
FAKES = {
    "fake.py": "",  # scenario flags, set by each script before use
    "machine.py": '''
import fake
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
def freq():
    f = getattr(fake, "freq", 240000000)
    if isinstance(f, Exception):
        raise f
    return f
def reset_cause():
    return getattr(fake, "reset", 3)
def unique_id():
    return b"\\x01\\x02"
class Pin:
    OUT = 3
    IN = 1
    log = []
    def __init__(self, id, mode=-1):
        if getattr(fake, "bad_pin", False):
            raise ValueError("invalid pin")
        self.id = id
    def value(self, v=None):
        if v is not None:
            Pin.log.append(v)
class ADC:
    CORE_TEMP = 4
    def __init__(self, ch):
        self.ch = ch
    def read_u16(self):
        return fake.adc if self.ch == 4 else 0
''',
    "network.py": '''
import fake
STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_WRONG_PASSWORD = 202
STAT_NO_AP_FOUND = 201
log = []
def hostname(name=None):
    if name is not None:
        log.append(("hostname", name))
        return
    return "fakehost"
class WLAN:
    objs = {}
    def __new__(cls, i=0):
        o = cls.objs.get(i)
        if o is None:
            o = object.__new__(cls)
            o.i = i
            o.up = False
            o.on = False
            o.st = STAT_IDLE
            o.ssid = ""
            o.cfg = {}
            cls.objs[i] = o
        return o
    def __init__(self, i=0):
        pass
    def active(self, v=None):
        if v is None:
            return self.on
        self.on = v
        log.append(("active", self.i, v))
    def connect(self, ssid, key):
        log.append(("connect", ssid, key))
        self.ssid = ssid
        good = getattr(fake, "good", {})
        if ssid in good and good[ssid] == key:
            self.up = getattr(fake, "join_at_once", True)
            self.st = STAT_GOT_IP
        elif ssid in good:
            self.st = STAT_WRONG_PASSWORD
        else:
            self.st = STAT_CONNECTING  # tries until the timeout
    def disconnect(self):
        self.up = False
        self.st = STAT_IDLE
    def isconnected(self):
        if getattr(fake, "isconnected_raises", False):
            raise OSError("driver")
        return self.up
    def status(self, p=None):
        if p is None:
            return self.st
        if p == "rssi":
            return -61
        raise ValueError(p)
    def ifconfig(self):
        if self.i == AP_IF:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")
        return ("10.0.0.7", "255.255.255.0", "10.0.0.1", "10.0.0.1") if self.up else ("0.0.0.0",) * 4
    def scan(self):
        return [(b"weak", b"", 1, -90, 3, 0), (b"strong", b"", 6, -40, 3, 0), (b"", b"", 1, -50, 0, 1)]
    def config(self, *a, **kw):
        if kw:
            if getattr(fake, "old_ap_api", False) and ("ssid" in kw or "security" in kw or "key" in kw):
                raise ValueError("unknown config param")
            self.cfg.update(kw)
            return
        if a[0] == "mac":
            return b"\\xaa\\x0b\\x0c\\x0d\\x0e\\x0f"
        if a[0] == "ssid" and getattr(fake, "old_ssid_api", False):
            raise ValueError("unknown config param")
        if a[0] in ("ssid", "essid"):
            return self.ssid if self.i == STA_IF else self.cfg.get("ssid", self.cfg.get("essid"))
        raise ValueError(a[0])
''',
    "esp32.py": '''
import fake
if hasattr(fake, "mcu"):
    def mcu_temperature():
        return fake.mcu
def raw_temperature():
    return fake.raw_f
''',
    "neopixel.py": '''
class NeoPixel:
    log = []
    def __init__(self, pin, n):
        self.px = [(0, 0, 0)] * n
    def __setitem__(self, i, v):
        self.px[i] = v
    def write(self):
        NeoPixel.log.append(self.px[0])
''',
}


@pytest.fixture
def mp(tmp_path):
    """Run a script in the MicroPython unix port; returns its last stdout line as JSON."""
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    for name, text in FAKES.items():
        (fakes / name).write_text(text)

    def run(script, with_fakes=True, extra_path=(), env=None, timeout=30):
        path = tmp_path / "script.py"
        path.write_text(script)
        paths = ([str(fakes)] if with_fakes else []) + [str(p) for p in extra_path]
        environment = dict(os.environ)
        environment["MICROPYPATH"] = ":".join(paths + [".frozen", str(DEVICE), str(REPO / "lib")])
        environment.update(env or {})
        proc = subprocess.run(
            runtime_command("micropython") + [str(path)],
            cwd=str(tmp_path),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stdout.strip().splitlines()
        return json.loads(lines[-1]), proc.stdout

    return run


def test_unix_port_without_hardware_modules_gives_null(mp):
    data, _ = mp(
        "import probe, json\np = probe.get({})\nprint(json.dumps(p.read()))", with_fakes=False
    )
    assert set(data) == set(probe.KEYS)
    for key in (
        "cpu_hz",
        "temp_c",
        "wifi_mode",
        "wifi_ssid",
        "rssi_dbm",
        "ip",
        "mac",
        "reset_cause",
        "hostname",
    ):
        assert data[key] is None, key
    assert data["platform"] == "unix" and data["simulated"] is False
    assert data["heap_used"] + data["heap_free"] == data["heap_total"]
    assert data["fs_free"] > 0 and data["board"] == "unix"


def test_station_values_from_the_standard_apis(mp):
    data, _ = mp('''
import fake, json
fake.good = {"home": "pw"}
fake.old_ssid_api = True          # firmware that only knows config("essid")
fake.freq = (168000000, 84000000)  # ports that return a tuple
fake.reset = 3
import network, probe
network.WLAN(network.STA_IF).connect("home", "pw")
print(json.dumps(probe.get({"board": "esp32"}).read()))
''')
    assert data["wifi_mode"] == "sta" and data["wifi_ssid"] == "home"
    assert data["rssi_dbm"] == -61 and data["ip"] == "10.0.0.7"
    assert data["mac"] == "aa:0b:0c:0d:0e:0f"
    assert data["cpu_hz"] == 168000000 and data["reset_cause"] == "watchdog"
    assert data["hostname"] == "fakehost" and data["board"] == "esp32"


def test_access_point_values(mp):
    data, _ = mp('''
import fake, json, network, probe
ap = network.WLAN(network.AP_IF)
ap.config(ssid="board-setup")
ap.active(True)
print(json.dumps(probe.get({"hostname": "cfgname"}).read()))
''')
    assert data["wifi_mode"] == "ap" and data["wifi_ssid"] == "board-setup"
    assert data["ip"] == "192.168.4.1"
    assert data["rssi_dbm"] is None  # no signal figure for our own access point
    assert data["hostname"] == "cfgname"


def test_failing_apis_give_null_not_exceptions(mp):
    data, _ = mp('''
import fake, json
fake.freq = OSError("clock")
fake.reset = 99
fake.isconnected_raises = True
import probe
print(json.dumps(probe.get({}).read()))
''')
    assert data["cpu_hz"] is None
    assert data["reset_cause"] == "unknown (99)"
    assert data["wifi_mode"] is None and data["ip"] is None and data["rssi_dbm"] is None
    assert data["heap_total"] > 0


def test_esp32_temperature(mp):
    script = '''
import fake, json
%s
from probe_esp32 import Esp32Probe
print(json.dumps(Esp32Probe({}).read()))
'''
    data, _ = mp(script % "fake.mcu = 40.56")  # S2/S3/C3: degrees C
    assert data["temp_c"] == 40.6 and data["platform"] == "esp32"
    data, _ = mp(script % "fake.raw_f = 104")  # original ESP32: Fahrenheit
    assert data["temp_c"] == 40.0
    data, _ = mp(script % "fake.raw_f = 128")  # 128 F: no sensor on this chip
    assert data["temp_c"] is None


def test_rp2_temperature(mp):
    # 0.706 V at the sensor is 27 C (RP2040 datasheet); 0.689 V is about 37 C.
    script = '''
import fake, json
fake.adc = %d
from probe_rp2 import Rp2Probe
print(json.dumps(Rp2Probe({}).read()))
'''
    data, _ = mp(script % round(0.706 / 3.3 * 65535))
    assert abs(data["temp_c"] - 27.0) <= 0.2 and data["platform"] == "rp2"
    data, _ = mp(script % round(0.689 / 3.3 * 65535))
    assert abs(data["temp_c"] - 36.9) <= 0.3


@pytest.mark.skipif(not (STUBS / "network.py").is_file(), reason="no virtual board stand-ins")
def test_virtual_board_stand_ins(mp):
    board = (REPO / "boards" / "esp32" / "board.json").read_text()
    data, _ = mp(
        '''
import json, network, probe
sta = network.WLAN(network.STA_IF)
sta.active(True)
sta.connect("lab", "pw")
print(json.dumps(probe.get({"board": "esp32"}).read()))
''',
        with_fakes=False,
        extra_path=(STUBS,),
        env={"VBOARD_BOARD": board},
    )
    assert data["wifi_ssid"] == "lab" and data["ip"] == "127.0.0.1"
    assert isinstance(data["rssi_dbm"], int) and data["rssi_dbm"] < 0
    assert data["cpu_hz"] == json.loads(board)["cpu_hz"]
    assert data["reset_cause"] == "power-on"
    assert len(data["mac"]) == 17


# -- MicroPython: WiFi and LED (device/wifi.py) ---------------------------------
WIFI = '''
import fake, json, time
%s
import wifi, network, machine, neopixel
t = time.ticks_ms()
mode = wifi.setup(CFG)
print(json.dumps({"mode": mode, "ip": wifi.ip, "ms": time.ticks_diff(time.ticks_ms(), t),
                  "log": network.log, "led": machine.Pin.log, "px": neopixel.NeoPixel.log,
                  "ap": network.WLAN(network.AP_IF).cfg, "found": wifi._found,
                  "again": wifi.setup(CFG)}))
'''


def wifi_run(mp, cfg, setup=""):
    return mp(WIFI % ("CFG = %r\n%s" % (cfg, setup)))


def test_wifi_joins_the_configured_network(mp):
    data, out = wifi_run(
        mp,
        {"wifi_ssid": "home", "wifi_password": "pw", "hostname": "kit", "led_pin": 2},
        'fake.good = {"home": "pw"}',
    )
    assert data["mode"] == "sta" and data["ip"] == "10.0.0.7" and data["again"] == "sta"
    assert ["hostname", "kit"] in data["log"]
    assert [c for c in data["log"] if c[0] == "connect"] == [["connect", "home", "pw"]]
    assert data["led"][-1] == 1  # LED on once joined
    assert "WiFi: connected to home, IP 10.0.0.7" in out


def test_wifi_tries_every_network_then_opens_the_setup_access_point(mp):
    cfg = {
        "wifi_ssid": "gone",
        "wifi_password": "x",
        "wifi_networks": [{"ssid": "far", "password": "y"}],
        "wifi_timeout_s": 0.3,
        "wifi_retries": 2,
        "hostname": "kit",
        "led_pin": 2,
        "led_active_low": True,
    }
    data, out = wifi_run(mp, cfg)
    connects = [c[1] for c in data["log"] if c[0] == "connect"]
    assert connects == ["gone", "far", "gone", "far"]
    assert data["mode"] == "ap" and data["ip"] == "192.168.4.1"
    assert data["ap"] == {"ssid": "kit-setup", "security": 0}  # open, named after the board
    assert data["found"] == ["strong", "weak"]  # strongest first, hidden ones left out
    assert 4 * 300 <= data["ms"] < 4 * 300 + 2 * 1000 + 1500  # timeouts, 1 s between rounds
    assert data["led"] and set(data["led"]) == {0, 1}  # blinked (active low: 0 is on)
    assert data["led"][-1] == 0
    assert "access point kit-setup is up" in out


def test_wifi_stops_waiting_on_a_wrong_password_and_tries_the_next(mp):
    cfg = {
        "wifi_ssid": "home",
        "wifi_password": "wrong",
        "wifi_timeout_s": 20,
        "wifi_networks": [{"ssid": "office", "password": "ok"}],
    }
    data, _ = wifi_run(mp, cfg, 'fake.good = {"home": "right", "office": "ok"}')
    assert data["mode"] == "sta" and data["ms"] < 3000  # not the 20 s timeout
    assert [c[1] for c in data["log"] if c[0] == "connect"] == ["home", "office"]


def test_wifi_without_credentials_goes_straight_to_the_access_point(mp):
    data, out = wifi_run(
        mp, {"ap_ssid": "Setup me", "ap_password": "longenough"}, "fake.old_ap_api = True"
    )
    assert data["mode"] == "ap" and data["ms"] < 1000
    # Old firmware: essid/password/authmode instead of ssid/key/security.
    assert data["ap"] == {"essid": "Setup me", "password": "longenough", "authmode": 3}
    assert "no network in config.json" in out


def test_wifi_rgb_led_shows_the_state_in_colour(mp):
    data, _ = wifi_run(
        mp,
        {"wifi_ssid": "home", "wifi_password": "pw", "led_pin": 48, "led_kind": "ws2812"},
        'fake.good = {"home": "pw"}',
    )
    assert data["px"][0] == [24, 12, 0] and data["px"][-1] == [0, 20, 0]  # amber, then green


def test_wifi_bad_led_pin_is_reported_not_fatal(mp):
    data, out = wifi_run(
        mp,
        {"wifi_ssid": "home", "wifi_password": "pw", "led_pin": 99},
        'fake.good = {"home": "pw"}\nfake.bad_pin = True',
    )
    assert data["mode"] == "sta" and "LED: cannot use pin 99" in out


def test_wifi_without_network_module_is_a_no_op(mp):
    data, _ = mp(
        '''
import json, wifi
print(json.dumps({"mode": wifi.setup({"wifi_ssid": "x"}), "ip": wifi.ip}))
''',
        with_fakes=False,
    )
    assert data == {"mode": None, "ip": None}


def test_free_heap_is_measured_after_a_collection(mp):
    # Garbage is not memory in use: the figures are those after gc.collect().
    data, _ = mp(
        "import gc, json, probe\n"
        "p = probe.get({})\n"
        "gc.collect()\n"
        "garbage = [bytearray(1000) for _ in range(50)]\n"
        "garbage = None\n"
        "d = p.read()\n"
        "gc.collect()\n"
        "print(json.dumps([d['heap_free'], gc.mem_free()]))\n",
        with_fakes=False,
    )
    reported, after_collection = data
    assert abs(reported - after_collection) < 4096, data
