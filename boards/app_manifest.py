# Shared part of boards/<name>/manifest.py: freezes the httpserver package and
# the device app into a firmware image. Freezing saves the RAM that importing
# .py or .mpy files from flash costs, which matters most on the Pico W.
#
# MicroPython runs this file with its manifest API (package, module, ...) and
# with the current directory set to this file's folder, so relative paths work.
# boot.py and main.py stay on the filesystem: the firmware only runs them from
# there (deploy.py copies them, with config.json). CPython-only modules are
# left out, by the rule deploy.py uses: "cpython" in the name, or "CPython
# only" / "never imported on a board" in the first lines.
import os
import re

_LIB = "../lib"
_DEVICE = "../device"


def _cpython_only(path):
    if "cpython" in os.path.basename(path):
        return True
    with open(path) as f:
        head = "".join(f.readline() for _ in range(12))
    return re.search(r"cpython only|never imported on a board", head, re.I) is not None


def _board_modules(folder, top=True):
    """.py files under folder (relative paths), without CPython shims or boot/main."""
    names = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and name != "__pycache__":
            names += [name + "/" + sub for sub in _board_modules(path, False)]
        elif name.endswith(".py") and not _cpython_only(path):
            if not (top and name in ("boot.py", "main.py")):
                names.append(name)
    return names


package("httpserver", files=_board_modules(_LIB + "/httpserver"), base_path=_LIB)
if os.path.isdir(_DEVICE):
    for _name in _board_modules(_DEVICE):
        module(_name, base_path=_DEVICE)
