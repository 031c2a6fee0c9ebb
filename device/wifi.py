"""WiFi for the board: join a configured network, else open a setup access point.

setup(cfg) joins (config.json keys, all optional but the first):
    wifi_ssid, wifi_password   the network to join
    wifi_networks              more to try: [{"ssid": ..., "password": ...}, ...]
    wifi_timeout_s (15)        how long one attempt may take
    wifi_retries (3)           rounds over all networks before giving up
    hostname                   the name the board asks DHCP for
    ap_ssid, ap_password       the fallback access point ("<hostname>-setup",
                               open unless a password of 8+ characters is set)
    led_pin, led_active_low    the LED that shows the state
    dns_port (53), setup_restart_s (10)
                               the setup portal's DNS port (0: none) and how
                               long the page shows the new address (wifisetup)

When no network can be joined, the board opens its own access point and
wifisetup.add_routes(app) serves a page at /setup (and / redirects there)
where a person enters the network's name and password; the board joins it
with the access point still up, saves it in config.json, shows its new
address and restarts. A DNS responder (dnsportal) and redirects for the
phones' connectivity checks make a phone open that page by itself.

The LED blinks fast while joining, slowly while the access point is up,
stays on once joined and blinks fast again while a lost link is rejoined
(an RGB LED also changes colour: amber, blue, green, red). start() keeps
watching: a dropped connection is joined again. On a unix port without a network module everything here is
a no-op (mode None, ip None).
"""

import asyncio
import time

mode = None  # "sta", "ap" or None (no network module, or no way to get online)
ip = None  # the board's IPv4 address in that mode
_done = False
_led = None
_joined = None  # (ssid, password) that worked
_found = []  # network names seen by the last scan, for the setup page


# Colours for an addressable (ws2812) LED: joining, access point, joined, lost.
COLOURS = {"join": (24, 12, 0), "ap": (0, 0, 32), "sta": (0, 20, 0), "lost": (32, 0, 0)}


class Led:
    """The board's LED (led_pin, led_active_low, led_kind "gpio" or "ws2812"),
    or nothing when the config names none."""

    def __init__(self, cfg):
        self.pin = self.np = None
        self.on_value = 0 if cfg.get("led_active_low") else 1
        self.lit = False
        self.colour = COLOURS["join"]
        pin = cfg.get("led_pin")
        if pin is None:
            return
        try:
            from machine import Pin

            if cfg.get("led_kind") == "ws2812":
                from neopixel import NeoPixel

                self.np = NeoPixel(Pin(pin, Pin.OUT), 1)
            else:
                self.pin = Pin(pin, Pin.OUT)
        except Exception as exc:
            print("LED: cannot use pin %r: %s" % (pin, exc))

    def set(self, lit, state=None):
        self.lit = lit
        if state:
            self.colour = COLOURS.get(state, self.colour)
        try:
            if self.np is not None:
                self.np[0] = self.colour if lit else (0, 0, 0)
                self.np.write()
            elif self.pin is not None:
                self.pin.value(self.on_value if lit else 1 - self.on_value)
        except Exception:
            pass

    def toggle(self):
        self.set(not self.lit)


def _networks(cfg):
    nets = []
    if cfg.get("wifi_ssid"):
        nets.append((cfg["wifi_ssid"], cfg.get("wifi_password") or ""))
    for item in cfg.get("wifi_networks") or ():
        try:
            if item.get("ssid"):
                nets.append((item["ssid"], item.get("password") or ""))
        except AttributeError:
            pass
    return nets


def _failed(network, sta):
    # True when the interface reports that the attempt failed (wrong
    # password, no such network): no need to wait for the timeout.
    try:
        status = sta.status()
    except Exception:
        return False
    for name in ("STAT_WRONG_PASSWORD", "STAT_BADAUTH", "STAT_NO_AP_FOUND", "STAT_CONNECT_FAIL"):
        if status is not None and status == getattr(network, name, None):
            return True
    return False


def _address(wlan):
    try:
        return wlan.ifconfig()[0]
    except Exception:
        return None


def setup(cfg):
    """Join WiFi as the config says, or open the setup access point.

    Returns the mode ("sta", "ap" or None). Runs once per boot: later
    calls return at once (boot.py joins; main.py's call finds it done).
    """
    global mode, ip, _done, _led, _joined
    if _done:
        return mode
    _done = True
    _led = Led(cfg)
    _led.set(True, "join")
    try:
        import network
    except ImportError:
        return None
    try:
        hostname = cfg.get("hostname")
        if hostname:
            try:
                network.hostname(hostname)
            except Exception:
                pass
        sta = network.WLAN(network.STA_IF)
        sta.active(True)
        if sta.isconnected():
            mode, ip = "sta", _address(sta)
            _led.set(True, "sta")
            print("WiFi: already connected, IP %s" % ip)
            return mode
        timeout = int(float(cfg.get("wifi_timeout_s") or 15) * 1000)
        retries = int(cfg.get("wifi_retries") or 3)
        nets = _networks(cfg)
        if not nets:
            print("WiFi: no network in config.json")
        for attempt in range(retries if nets else 0):
            for ssid, password in nets:
                print("WiFi: joining %s (attempt %d of %d)" % (ssid, attempt + 1, retries))
                if _join(network, sta, ssid, password, timeout):
                    _joined = (ssid, password)
                    mode, ip = "sta", _address(sta)
                    _led.set(True, "sta")
                    print("WiFi: connected to %s, IP %s" % (ssid, ip))
                    return mode
            time.sleep(1)
        return _open_ap(network, sta, cfg)
    except MemoryError:
        raise
    except Exception as exc:
        print("WiFi: %s: %s" % (type(exc).__name__, exc))
        return mode


def _join(network, sta, ssid, password, timeout):
    try:
        sta.connect(ssid, password)
    except OSError as exc:
        print("WiFi: %s" % exc)
        return False
    start = time.ticks_ms()
    while not sta.isconnected():
        if time.ticks_diff(time.ticks_ms(), start) > timeout or _failed(network, sta):
            print("WiFi: could not join %s" % ssid)
            try:
                sta.disconnect()
            except Exception:
                pass
            return False
        _led.toggle()
        time.sleep_ms(125)
    return True


def _open_ap(network, sta, cfg):
    global mode, ip, _found
    if not hasattr(network, "AP_IF"):
        print("WiFi: no access point on this platform; serving without network")
        return None
    try:
        seen = sorted(sta.scan(), key=lambda n: -n[3])
        _found = []
        for n in seen:
            name = n[0].decode() if isinstance(n[0], bytes) else n[0]
            if name and name not in _found and len(_found) < 12:
                _found.append(name)
    except Exception:
        pass
    essid = cfg.get("ap_ssid") or (cfg.get("hostname") or "board") + "-setup"
    password = cfg.get("ap_password") or ""
    ap = network.WLAN(network.AP_IF)
    if len(password) >= 8:
        options = (
            {"ssid": essid, "key": password},
            {"essid": essid, "password": password, "authmode": 3},
        )
    else:
        options = ({"ssid": essid, "security": 0}, {"essid": essid, "authmode": 0})
    for kwargs in options:
        try:
            ap.config(**kwargs)
            break
        except Exception:
            pass
    ap.active(True)
    mode, ip = "ap", _address(ap) or "192.168.4.1"
    _led.set(True, "ap")
    print(
        "WiFi: no network joined; access point %s is up: join it, then open /setup at %s"
        % (essid, ip)
    )
    return mode


def start():
    """Start the LED and reconnect watcher (call inside the running event loop)."""
    if mode is not None:
        return asyncio.create_task(_watch())
    return None


async def _watch():
    import network

    sta = network.WLAN(network.STA_IF)
    global ip
    lost = False
    n = 0
    while True:
        n += 1
        if mode == "ap":
            _led.set(n % 8 < 4)  # slow blink
        elif n % 20 == 0 or lost:  # check every 5 s, each tick while lost
            up = sta.isconnected()
            if up and lost:
                lost = False
                ip = _address(sta)
                _led.set(True, "sta")
                print("WiFi: connected again, IP %s" % ip)
            elif not up and not lost:
                lost = True
                print("WiFi: connection lost, rejoining")
                _led.set(True, "lost")
                try:
                    if _joined:
                        sta.connect(_joined[0], _joined[1])
                except Exception:
                    pass
            if lost:
                _led.toggle()  # fast blink
                if n % 240 == 0 and _joined:
                    try:
                        sta.connect(_joined[0], _joined[1])
                    except Exception:
                        pass
        await asyncio.sleep_ms(250)
