"""Status provider for the MicroPython unix port (and the virtual board).

Everything comes from the base provider; the network and machine modules are
used when present (the virtual board puts stand-ins on its path) and give
None when the plain unix port lacks them. Uptime counts from app start and
the filesystem figures are those of the current directory.
"""

from probe import Probe


class UnixProbe(Probe):
    PLATFORM = "unix"

    def _since_boot_ms(self, now):
        return 0

    def _fs_path(self):
        return "."

    def machine(self):
        import sys

        return "MicroPython unix port (%s)" % sys.platform

    def board(self):
        return self.cfg.get("board") or "unix"
