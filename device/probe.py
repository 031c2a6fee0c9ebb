"""Where every status value comes from: one provider per platform.

    import probe
    p = probe.get(cfg)     # the provider for this platform (cfg: the board config dict)
    p.read()               # {"board": "esp32-devkit", "heap_free": 104512, ..., "temp_c": None}

Values, their types and units (None, JSON null, when the platform cannot tell):

    board        str    the board name from config.json (or the firmware's machine name)
    machine      str    what the firmware says the hardware is
    firmware     str    e.g. "MicroPython 1.24.1", "CPython 3.11.7"
    platform     str    esp32, rp2, unix, cpython
    simulated    bool   true when values describe a simulated board (CPython)
    hostname     str
    uptime_s     int    seconds since boot (since start on the unix port and CPython)
    heap_free    int    bytes, after a collection (what the app can still allocate)
    heap_used    int    bytes, after a collection (what live objects take)
    heap_total   int    bytes
    fs_free      int    bytes free on the filesystem holding the app
    fs_total     int    bytes
    cpu_hz       int    CPU clock, Hz
    temp_c       float  chip temperature, degrees Celsius
    wifi_mode    str    "sta" (joined a network) or "ap" (own access point)
    wifi_ssid    str
    rssi_dbm     int    signal strength, dBm (station mode)
    ip           str    IPv4 address
    mac          str    "aa:bb:cc:dd:ee:ff"
    reset_cause  str    power-on, hard reset, watchdog, deep sleep wake, soft reset, brownout

A provider is a class whose methods are named after the keys. read() calls
each one; an absent module or function, or any error, gives None, never an
exception (except MemoryError, which must not be hidden). The MicroPython
base here asks the standard modules (gc, os, machine, network); the
platform modules probe_esp32, probe_rp2, probe_unix and probe_cpython add
or change what differs. Only the one for the running platform is imported.
"""

import gc
import os
import sys

from httpserver import runtime

KEYS = (
    "board",
    "machine",
    "firmware",
    "platform",
    "simulated",
    "hostname",
    "uptime_s",
    "heap_free",
    "heap_used",
    "heap_total",
    "fs_free",
    "fs_total",
    "cpu_hz",
    "temp_c",
    "wifi_mode",
    "wifi_ssid",
    "rssi_dbm",
    "ip",
    "mac",
    "reset_cause",
)

_RESETS = (
    ("PWRON_RESET", "power-on"),
    ("HARD_RESET", "hard reset"),
    ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deep sleep wake"),
    ("SOFT_RESET", "soft reset"),
    ("BROWNOUT_RESET", "brownout"),
)


# The shim's clock: wrap-safe on a board, monotonic on CPython.
_ticks_ms = runtime.ticks_ms
_ticks_diff = runtime.ticks_diff


class Probe:
    """Base provider: MicroPython's standard modules, None where they are missing."""

    PLATFORM = None
    SIMULATED = False

    def __init__(self, cfg=None):
        self.cfg = cfg or {}
        self._sta = self._ap = False  # the WLAN interfaces, asked once per read()
        self._mem = None
        # uptime: ticks_ms wraps (2**30 ms on MicroPython), so it is
        # accumulated from differences; read() at least every few days.
        self._last = _ticks_ms()
        self._up_ms = self._since_boot_ms(self._last)

    def _since_boot_ms(self, now):
        # On a board ticks_ms() counts from boot; the unix port and CPython
        # count from when the probe was made (about when the app started).
        return now

    def read(self):
        """All values as a dict in KEYS order (None for what cannot be told)."""
        self._sta = self._ap = False
        self._mem = None
        self._step()
        out = {}
        for key in KEYS:
            try:
                value = getattr(self, key)()
            except MemoryError:
                raise
            except Exception:
                value = None
            out[key] = value
        self._sta = self._ap = False
        self._mem = None
        return out

    def _step(self):
        # Called once at the start of each read(); a simulation moves on here.
        pass

    def get(self, key):
        """One value by key, None when unknown."""
        return self.read()[key] if key in KEYS else None

    # -- identity
    def board(self):
        return self.cfg.get("board") or self.machine()

    def machine(self):
        return sys.implementation._machine

    def firmware(self):
        v = sys.implementation.version
        s = "MicroPython %d.%d.%d" % (v[0], v[1], v[2])
        if len(v) > 3 and v[3]:
            s += "-" + v[3]
        return s

    def platform(self):
        return self.PLATFORM or sys.platform

    def simulated(self):
        return self.SIMULATED

    def hostname(self):
        name = self.cfg.get("hostname")
        if name:
            return name
        import network

        return network.hostname()

    # -- time and memory
    def uptime_s(self):
        now = _ticks_ms()
        self._up_ms += _ticks_diff(now, self._last)
        self._last = now
        return self._up_ms // 1000

    def _heap(self):
        # Both figures at once, so that used + free == total in one reading;
        # after a collection, so that garbage does not count as used.
        if self._mem is None:
            gc.collect()
            self._mem = (gc.mem_alloc(), gc.mem_free())
        return self._mem

    def heap_free(self):
        return self._heap()[1]

    def heap_used(self):
        return self._heap()[0]

    def heap_total(self):
        return sum(self._heap())

    def _fs_path(self):
        return "/"

    def fs_free(self):
        s = os.statvfs(self._fs_path())
        return s[0] * s[4]

    def fs_total(self):
        s = os.statvfs(self._fs_path())
        return s[1] * s[2]

    # -- chip
    def cpu_hz(self):
        import machine

        f = machine.freq()
        if isinstance(f, tuple):
            f = f[0]
        return int(f)

    def temp_c(self):
        return None

    def reset_cause(self):
        import machine

        code = machine.reset_cause()
        if isinstance(code, str):
            return code
        for name, label in _RESETS:
            if getattr(machine, name, None) == code:
                return label
        return "unknown (%d)" % code

    # -- network
    def _wlan(self):
        """The active interface: station when connected, else an active AP."""
        if self._sta is False:
            self._sta = self._ap = None
            import network

            sta = network.WLAN(network.STA_IF)
            if sta.isconnected():
                self._sta = sta
            elif hasattr(network, "AP_IF"):
                ap = network.WLAN(network.AP_IF)
                if ap.active():
                    self._ap = ap
        return self._sta or self._ap

    def wifi_mode(self):
        w = self._wlan()
        return None if w is None else ("sta" if w is self._sta else "ap")

    def wifi_ssid(self):
        w = self._wlan()
        if w is None:
            return None
        try:
            return w.config("ssid")
        except (ValueError, OSError):
            return w.config("essid")

    def rssi_dbm(self):
        w = self._wlan()
        if w is None or w is not self._sta:
            return None
        return int(w.status("rssi"))

    def ip(self):
        w = self._wlan()
        return None if w is None else w.ifconfig()[0]

    def mac(self):
        import network

        w = self._wlan() or network.WLAN(network.STA_IF)
        return ":".join("%02x" % b for b in w.config("mac"))


def get(cfg=None):
    """The provider for the running platform."""
    if not runtime.MICROPYTHON:  # a desktop: a simulated board
        from probe_cpython import CPythonProbe as cls
    elif sys.platform == "esp32":
        from probe_esp32 import Esp32Probe as cls
    elif sys.platform == "rp2":
        from probe_rp2 import Rp2Probe as cls
    elif sys.platform in ("linux", "darwin", "freebsd", "unix"):
        from probe_unix import UnixProbe as cls
    else:
        cls = Probe
    return cls(cfg)
