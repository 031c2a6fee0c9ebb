# VIRTUAL BOARD STAND-IN for the board's flash filesystem - not firmware code.
#
# The unix port sees the host's whole filesystem. A board sees only its flash,
# mounted at "/". tools/vboard.py mounts this filesystem at "/" instead, so
# that "/main.py" and "/lib/x.py" mean files in the flash folder and no path
# ("..", absolute or relative) reaches outside it: paths are resolved here,
# against this filesystem's own current directory, before the host sees them.
# (A symlink that someone puts inside the flash folder is followed by the
# host; the virtual board never makes one.)
#
# It also answers what a board's filesystem answers: listings carry file
# sizes (as FAT and littlefs do) and statvfs() reports the board's filesystem
# size from boards/<name>/board.json ("fs_bytes"), not the host disk's.
import vfs

BLOCK = 4096  # the erase block of the boards' SPI flash


class Flash:
    def __init__(self, root, size):
        # Host paths are made here: the unix port's VfsPosix(root).rename()
        # fails with ENOENT.
        self._host = vfs.VfsPosix()
        self._root = root.rstrip("/")
        self._size = size
        self._cwd = "/"

    def _path(self, path):
        """The host path of a board path; ".." stops at the flash's root."""
        return self._root + self._board_path(path)

    def _board_path(self, path):
        """The absolute path inside the flash."""
        if not path.startswith("/"):
            path = self._cwd + "/" + path
        parts = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def open(self, path, mode):
        return self._host.open(self._path(path), mode)

    def ilistdir(self, path):
        return self._list(self._path(path))

    def _list(self, path):
        for entry in self._host.ilistdir(path):
            size = 0
            if entry[1] == 0x8000:  # a file: its size, as a board lists it
                size = self._host.stat(path.rstrip("/") + "/" + entry[0])[6]
            yield (entry[0], entry[1], 0, size)

    def chdir(self, path):
        path = self._board_path(path)
        if not self._host.stat(self._root + path)[0] & 0x4000:
            raise OSError(20)  # ENOTDIR
        self._cwd = path

    def getcwd(self):
        return self._cwd

    def mkdir(self, path):
        self._host.mkdir(self._path(path))

    def remove(self, path):
        self._host.remove(self._path(path))

    def rename(self, old, new):
        self._host.rename(self._path(old), self._path(new))

    def rmdir(self, path):
        self._host.rmdir(self._path(path))

    def stat(self, path):
        return self._host.stat(self._path(path))

    def statvfs(self, path):
        # Used space is what the flash folder's files take, in whole blocks.
        used = self._used(self._root + "/")
        total = self._size // BLOCK
        free = max(total - used, 0)
        return (BLOCK, BLOCK, total, free, free, 0, 0, 0, 0, 255)

    def _used(self, path):
        blocks = 0
        for name, kind, _, size in self._list(path):
            if kind == 0x4000:
                blocks += 1 + self._used(path.rstrip("/") + "/" + name)
            else:
                blocks += (size + BLOCK - 1) // BLOCK
        return blocks


def mount_flash(root, size):
    """Make the flash folder the whole filesystem, as on a board."""
    import os
    import sys

    vfs.umount("/")
    vfs.mount(Flash(root, size), "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
