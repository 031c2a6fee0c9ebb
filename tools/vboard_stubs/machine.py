# VIRTUAL BOARD STAND-IN extending MicroPython's `machine` module - not firmware code.
#
# The unix port's built-in `machine` only has mem8/16/32, idle, PinBase,
# Signal and time_pulse_us; those are kept (imported below). tools/vboard.py
# puts this folder on the virtual board's path to add what device code uses on
# a board:
#   - reset() and soft_reset() end this interpreter; the virtual board starts
#     a fresh one and runs boot.py and main.py, as the firmware does. Like on a
#     board they do not return.
#   - reset_cause() tells power-on / hard / soft reset apart, with the
#     constants of the board's port.
#   - freq() reports the board's CPU clock (a figure from boards/, not the
#     host's); setting it is only remembered.
#   - unique_id() is a fixed made-up id of the board's length.
#   - Timer runs its callback from a thread after the period (ONE_SHOT or
#     PERIODIC), also while the board sits at the REPL, as a board's timer
#     interrupt does; ids -1 (virtual, rp2) and 0-3 (ESP32 hardware) only.
#   - Pin keeps levels in memory (no hardware): an output reads back what was
#     written, an input reads its pull (1 for PULL_UP, else 0). The Pico W
#     name "LED" is accepted there.
import sys

_path = sys.path
sys.path = ()
try:
    from machine import *  # noqa: F401,F403 - the unix port's built-in part
finally:
    sys.path = _path
    del _path

import _vboard  # noqa: E402  (after the path is set up above)

_RP2 = _vboard.get("platform") == "rp2"

PWRON_RESET = 1
if _RP2:
    WDT_RESET = 3
else:
    HARD_RESET = 2
    WDT_RESET = 3
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5
    BROWNOUT_RESET = 6

_CAUSES = {"power": 1, "hard": 3 if _RP2 else 2, "soft": 5, "deepsleep": 4}
_freq = [_vboard.get("cpu_hz", 160000000)]


def reset():
    _vboard.request_reset("hard")


def soft_reset():
    _vboard.request_reset("soft")


def deepsleep(time_ms=0):
    _vboard.request_reset("deepsleep")


def lightsleep(time_ms=0):
    import time

    time.sleep_ms(time_ms)


def reset_cause():
    return _CAUSES.get(_vboard.get("reset_cause"), PWRON_RESET)


def freq(hz=None):
    if hz is None:
        return _freq[0]
    _freq[0] = int(hz)


def unique_id():
    n = _vboard.get("unique_id_bytes", 6)
    seed = _vboard.get("board", "vboard")
    return bytes((ord(seed[i % len(seed)]) + i) & 0xFF for i in range(n))


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    _levels = {}
    _MAX = 29 if _RP2 else 48

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        if isinstance(id, str):
            if not (_RP2 and id in ("LED", "WL_GPIO0")):
                raise ValueError("unknown named pin \"%s\"" % id)
            id = "LED"
        elif not isinstance(id, int) or not 0 <= id <= self._MAX:
            raise ValueError("invalid pin")
        self._id = id
        self._mode = self.IN
        self._pull = None
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        if mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self._levels[self._id] = 1 if value else 0

    def value(self, x=None):
        if x is None:
            if self._mode == self.IN:
                return 1 if self._pull == self.PULL_UP else 0
            return self._levels.get(self._id, 0)
        self._levels[self._id] = 1 if x else 0

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        self.value(0 if self._levels.get(self._id, 0) else 1)

    def irq(self, handler=None, trigger=3, *, hard=False):
        return None

    def __repr__(self):
        return "Pin(%s)" % (self._id,)


def __getattr__(name):
    # Timer loads at its first use (update.py's trial boot): the firmware's
    # is built in and costs a board no heap, and this stand-in's class, kept
    # in the module, cost the virtual ESP32 enough to answer its page 503.
    if name != "Timer":
        raise AttributeError(name)
    import vfs

    # A host path, outside the flash that open() and import are confined to.
    f = vfs.VfsPosix().open(__file__.rsplit("/", 1)[0] + "/_vboard_timer.py", "r")
    source = f.read()
    f.close()
    exec(source, globals())
    return globals()[name]
