# VIRTUAL BOARD STAND-IN for the ESP32's `esp32` module - not firmware code.
# Loaded by esp32.py (the module a board's code imports) at first use.
#
# Only Partition, for over-the-air firmware updates (device/update.py):
# two app partitions, ota_0 and ota_1, each a file in the host folder that
# tools/vboard.py names in VBOARD_PARTITIONS (beside the flash folder), and
# otadata.json there for what the bootloader keeps in its otadata partition:
#   {"running": label, "boot": label, "previous": label, "state": ...}
# with the ESP-IDF app states "valid", "new" (set_boot() done), "pending"
# (booted, not yet marked valid) and "aborted" (rolled back). tools/vboard.py
# acts as the bootloader at each hard reset (see its bootloader()): a "new"
# partition is booted and becomes "pending"; a "pending" one that is still
# pending at the next reset was never confirmed, and the previous one boots.
# The unix port's code does not change with the "firmware", of course: what
# a test sees is which partition runs and what was written to it.
import json

import _vboard

_BLOCK = 4096
_LABELS = ("ota_0", "ota_1")
_SIZE = _vboard.get("ota_bytes", 0x180000)


def _host():
    import os

    import vfs

    folder = os.getenv("VBOARD_PARTITIONS")
    if not folder:
        raise OSError(2)  # ENOENT: a firmware without OTA partitions
    return vfs.VfsPosix(), folder


def _otadata():
    host, folder = _host()
    try:
        with host.open(folder + "/otadata.json", "r") as f:
            return json.loads(f.read())
    except OSError:
        return {"running": "ota_0", "boot": "ota_0", "previous": "ota_0", "state": "valid"}


def _save(data):
    host, folder = _host()
    with host.open(folder + "/otadata.json", "w") as f:
        f.write(json.dumps(data))


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=_BLOCK):
        if id in (self.BOOT, self.RUNNING):
            data = _otadata()
            id = data["boot" if id == self.BOOT else "running"]
        if id not in _LABELS:
            raise ValueError("partition not found")
        self._label = id

    @staticmethod
    def find(type=0, subtype=0xFF, label=None):
        if type != Partition.TYPE_APP:
            return []
        return [Partition(x) for x in _LABELS if label in (None, x)]

    def info(self):
        number = _LABELS.index(self._label)
        return (self.TYPE_APP, 0x10 + number, 0x10000 + number * _SIZE, _SIZE, self._label, False)

    def _file(self, mode):
        host, folder = _host()
        path = folder + "/" + self._label + ".bin"
        try:
            return host.open(path, mode)
        except OSError:
            with host.open(path, "wb"):
                pass
            return host.open(path, mode)

    def readblocks(self, block_num, buf, offset=0):
        start = block_num * _BLOCK + offset
        if start + len(buf) > _SIZE:
            raise OSError(22)
        with self._file("rb") as f:
            f.seek(start)
            data = f.read(len(buf))
        buf[: len(data)] = data
        for i in range(len(data), len(buf)):
            buf[i] = 0xFF  # never written: erased flash

    def writeblocks(self, block_num, buf, offset=None):
        # Without offset, as the firmware: the blocks are erased, then written.
        start = block_num * _BLOCK + (offset or 0)
        if start + len(buf) > _SIZE:
            raise OSError(22)
        with self._file("r+b") as f:
            f.seek(start)
            f.write(buf)

    def ioctl(self, cmd, arg):
        if cmd == 4:  # block count
            return _SIZE // _BLOCK
        if cmd == 5:  # block size
            return _BLOCK
        return 0

    def set_boot(self):
        data = _otadata()
        data["boot"] = self._label
        data["state"] = "new" if self._label != data["running"] else "valid"
        _save(data)

    def get_next_update(self):
        return Partition(_LABELS[1 - _LABELS.index(self._label)])

    @staticmethod
    def mark_app_valid_cancel_rollback():
        data = _otadata()
        if data["state"] == "pending":
            data["state"] = "valid"
            _save(data)

    def __repr__(self):
        return (
            "<Partition type=0, subtype=%d, address=%d, size=%d, label=%s, encrypted=0>"
            % (self.info()[1:5])
        )
