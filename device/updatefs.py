"""What update_receive.py (receiving) and update.py (switching at boot) share:
where an update lives on flash, and file steps that a power cut cannot
leave half done (a rename; JSON written beside and renamed).
"""

import json
import os

STATE = "update.d/state.json"
RESULT = "update.d/result.json"
NEW = "update.d/new/"
OLD = "update.d/old/"


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def makedirs(path):
    # The folders above a file path (os.makedirs is not on every port).
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass


def move(old, new):
    makedirs(new)
    try:
        os.rename(old, new)
    except OSError:
        # Some filesystems do not replace on rename.
        os.remove(new)
        os.rename(old, new)


def is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def rmtree(path):
    if not is_dir(path):
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for name in os.listdir(path):
        rmtree(path + "/" + name)
    os.rmdir(path)


def write_json(path, data):
    # Written beside and renamed: a power cut leaves the old or the new file.
    makedirs(path)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f)  # in pieces: the state of a whole bundle is kilobytes
    move(path + ".tmp", path)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def state():
    return read_json(STATE)


def version():
    """The app's version: version.txt from its bundle, else the library's."""
    try:
        with open("version.txt") as f:
            return f.read().strip()
    except OSError:
        import httpserver

        return httpserver.__version__
