# VIRTUAL BOARD STAND-IN for a firmware's ROMFS partition - not firmware code.
#
# Firmware built with MICROPY_VFS_ROM (MicroPython 1.25+) keeps a partition of
# flash that holds a ROMFS image, mounts it at /rom at boot and runs the .mpy
# files in it in place, without copying their bytecode into the heap.
# `mpremote romfs query|deploy` reach that partition through vfs.rom_ioctl().
#
# The unix port has vfs.VfsRom but not vfs.rom_ioctl. tools/vboard.py --romfs
# holds the partition in the memory of the host process that runs the
# interpreter (an mmap of a host file, outside MicroPython's GC heap, as flash
# is) and passes its address and size in VBOARD_ROMFS ("address:size"). This
# module gives the interpreter what the firmware has:
#   * install(): `import vfs` then finds this module, which is the built-in vfs
#     plus rom_ioctl() (the built-in module cannot take a new attribute);
#   * mount(): the boot step that mounts a valid image at /rom and puts /rom
#     and /rom/lib on sys.path before /lib.
import os
import sys

import uctypes
import vfs as _builtin_vfs
from vfs import *  # noqa: F403 - this module stands in for vfs as a whole

# The ioctl numbers and answers of the firmware's vfs_rom_ioctl (extmod/vfs_rom_ioctl.c)
_NUM_PARTITIONS = 1
_GET_PARTITION = 2
_WRITE_PREPARE = 3
_WRITE = 4
_WRITE_COMPLETE = 5
_GET_BLOCK_SIZE = 6
_EINVAL = 22
_BLOCK = 4096  # the erase block of the boards' SPI flash
_MIN_WRITE = 4  # smallest write the flash takes (mpremote writes 4K chunks anyway)

_address, _size = (int(x) for x in os.getenv("VBOARD_ROMFS").split(":"))


def _bytes_at(offset, length):
    return uctypes.bytearray_at(_address + offset, length)


def rom_ioctl(op, *args):
    """vfs.rom_ioctl as the firmware answers it, for the one partition (id 0)."""
    if op == _NUM_PARTITIONS:
        return 1
    if not args or args[0] != 0:
        return -_EINVAL
    if op == _GET_PARTITION:
        return memoryview(_bytes_at(0, _size))
    if op == _GET_BLOCK_SIZE:
        return _BLOCK
    if op == _WRITE_PREPARE:
        # (id, length) erases from the start; (id, offset, length) a range
        offset, length = (0, args[1]) if len(args) == 2 else (args[1], args[2])
        if offset < 0 or offset % _BLOCK or length < 0 or offset + length > _size:
            return -_EINVAL
        erased = b"\xff" * _BLOCK
        for at in range(offset, offset + length, _BLOCK):
            n = min(_BLOCK, offset + length - at)
            _bytes_at(at, n)[:] = erased[:n]
        return _MIN_WRITE
    if op == _WRITE:
        offset, data = args[1], args[2]
        if offset < 0 or offset + len(data) > _size:
            return -_EINVAL
        _bytes_at(offset, len(data))[:] = data
        return 0
    if op == _WRITE_COMPLETE:
        return 0
    return -_EINVAL


def install():
    """Make `import vfs` give this module (built-in vfs plus rom_ioctl)."""
    sys.modules["vfs"] = sys.modules[__name__]


def mount():
    """The firmware's boot step: mount a valid image at /rom, /rom/lib on the path."""
    try:
        _builtin_vfs.mount(VfsRom(rom_ioctl(_GET_PARTITION, 0)), "/rom")  # noqa: F405
    except OSError:  # erased or not a ROMFS image: the firmware boots without it
        return False
    i = sys.path.index("/lib") if "/lib" in sys.path else len(sys.path)
    sys.path[i:i] = ["/rom", "/rom/lib"]
    return True
