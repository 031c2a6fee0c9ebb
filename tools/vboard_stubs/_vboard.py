# VIRTUAL BOARD STAND-IN - not MicroPython firmware code.
#
# Shared state for the stand-in modules (network.py, machine.py) that
# tools/vboard.py puts on the MicroPython unix port's path. The unix port has
# no Wi-Fi and only a sliver of `machine`; these stand-ins give device code the
# same API as the board it pretends to be, so the device code runs its real
# paths. Nothing here is copied to a board; nothing in lib/ or device/ imports
# this module directly.
#
# tools/vboard.py passes the board description in the environment:
#   VBOARD_BOARD        JSON text of boards/<name>/board.json (+ "reset_cause")
#   VBOARD_CTL          path of a FIFO; writing "hard\n" / "soft\n" asks the
#                       supervisor for a hard or soft reset
import json
import os

_raw = os.getenv("VBOARD_BOARD")
board = json.loads(_raw) if _raw else {}
del _raw


def get(key, default=None):
    return board.get(key, default)


def request_reset(kind):
    """Ask the virtual board's supervisor to reset the interpreter; never returns."""
    import time

    path = os.getenv("VBOARD_CTL")
    if path:
        import vfs

        # The FIFO is a host path, outside the flash that open() is confined to.
        f = vfs.VfsPosix().open(path, "w")
        f.write(kind + "\n")
        f.close()
        # Like the firmware, the call does not return: the supervisor ends
        # this interpreter and starts a fresh one.
        while True:
            time.sleep(1)
    # Not under tools/vboard.py: the closest the bare unix port has.
    raise SystemExit(0)
