# VIRTUAL BOARD STAND-IN for MicroPython's `network` module - not firmware code.
#
# The MicroPython unix port has no `network` module. tools/vboard.py puts this
# folder on the virtual board's path so device code can run its real Wi-Fi
# paths on the host. What it does, and what it does not:
#   - WLAN(STA_IF).connect() "joins" any SSID at once; status() is then
#     STAT_GOT_IP and isconnected() True. There is no radio: the only network
#     the virtual board has is the host's loopback, so every address it
#     reports is 127.0.0.1 (a server bound to 0.0.0.0 is reachable there).
#   - status('rssi') is a fixed -52 dBm; scan() lists one made-up network.
#   - constants, default hostname and MAC prefix follow the board's port
#     (esp32: ESP-IDF driver, rp2: CYW43 driver), as given by tools/vboard.py.
import _vboard

_RP2 = _vboard.get("platform") == "rp2"

STA_IF = 0
AP_IF = 1

if _RP2:  # values of MicroPython's CYW43 driver
    STAT_IDLE = 0
    STAT_CONNECTING = 1
    STAT_GOT_IP = 3
    STAT_CONNECT_FAIL = -1
    STAT_NO_AP_FOUND = -2
    STAT_WRONG_PASSWORD = -3
else:  # values of MicroPython's esp32 port
    STAT_IDLE = 1000
    STAT_CONNECTING = 1001
    STAT_GOT_IP = 1010
    STAT_BEACON_TIMEOUT = 200
    STAT_NO_AP_FOUND = 201
    STAT_WRONG_PASSWORD = 202
    STAT_ASSOC_FAIL = 203
    STAT_HANDSHAKE_TIMEOUT = 204

AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4

_LOOPBACK = ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
_NONE = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
_state = {"hostname": "PicoW" if _RP2 else "mpy-esp32", "country": "XX"}


def hostname(name=None):
    if name is None:
        return _state["hostname"]
    if not isinstance(name, str) or len(name) > 32:
        raise ValueError("hostname too long")
    _state["hostname"] = name


def country(code=None):
    if code is None:
        return _state["country"]
    _state["country"] = code


def ipconfig(*args, **kwargs):
    if args and args[0] == "prefer":
        return 4
    return None


class WLAN:
    _objects = {}

    def __new__(cls, interface_id=STA_IF):
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        obj = cls._objects.get(interface_id)
        if obj is None:  # one object per interface, as on the boards
            obj = object.__new__(cls)
            obj._if = interface_id
            obj._active = False
            obj._connected = False
            obj._status = STAT_IDLE
            obj._cfg = {"ssid": "", "key": "", "channel": 6, "txpower": 20, "pm": 0}
            cls._objects[interface_id] = obj
        return obj

    def __init__(self, interface_id=STA_IF):
        pass

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        if not self._active:
            self._connected = False
            self._status = STAT_IDLE

    def connect(self, ssid=None, key=None, *, bssid=None):
        if self._if != STA_IF:
            raise OSError("AP interface cannot connect")
        if not self._active:
            if not _RP2:
                raise OSError("Wifi Not Started")
            self._active = True
        if ssid is not None:
            self._cfg["ssid"] = ssid
            self._cfg["key"] = key or ""
        self._connected = True
        self._status = STAT_GOT_IP

    def disconnect(self):
        self._connected = False
        self._status = STAT_IDLE

    def isconnected(self):
        if self._if == AP_IF:
            return False
        return self._connected

    def status(self, param=None):
        if param is None:
            return self._status
        if param == "rssi":
            if not self._connected:
                raise OSError("STA must be connected")
            return -52
        if param == "stations":
            return []
        raise ValueError("unknown status param")

    def scan(self):
        bssid = bytes(b ^ 2 for b in _mac(STA_IF))
        return [(b"vboard-loopback", bssid, 6, -52, AUTH_WPA2_PSK, False)]

    def _up(self):
        return self._connected if self._if == STA_IF else self._active

    def ifconfig(self, config=None):
        if config is None:
            return _LOOPBACK if self._up() else _NONE
        raise OSError("the virtual board's only address is 127.0.0.1")

    def ipconfig(self, *args, **kwargs):
        if kwargs:
            return None
        if args and args[0] == "addr4":
            c = self.ifconfig()
            return (c[0], c[1])
        if args and args[0] == "gw4":
            return self.ifconfig()[2]
        if args and args[0] == "dhcp4":
            return True
        raise ValueError("unexpected key")

    def config(self, *args, **kwargs):
        if kwargs:
            for key, value in kwargs.items():
                if key in ("ssid", "essid"):
                    self._cfg["ssid"] = value
                elif key in ("key", "password"):
                    self._cfg["key"] = value
                elif key in ("channel", "txpower", "pm", "security", "reconnects", "max_clients"):
                    self._cfg[key] = value
                elif key in ("hostname", "dhcp_hostname"):
                    hostname(value)
                else:
                    raise ValueError("unknown config param")
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        key = args[0]
        if key == "mac":
            return _mac(self._if)
        if key in ("ssid", "essid"):
            return self._cfg["ssid"]
        if key in ("hostname", "dhcp_hostname"):
            return hostname()
        if key in self._cfg and key != "key":
            return self._cfg[key]
        raise ValueError("unknown config param")


def _mac(interface_id):
    # Fixed, made-up addresses under the vendor prefix of the real chip:
    # 28:cd:c1 (Raspberry Pi Ltd, CYW43 on the Pico W), 24:0a:c4 (Espressif).
    base = b"\x28\xcd\xc1" if _RP2 else b"\x24\x0a\xc4"
    return base + bytes((0x0B, 0x0A, 0x01 + interface_id))
