"""Status provider for CPython: a simulated board, for developing the pages.

Values that describe the host honestly are real: uptime (since start), the
filesystem of the current directory, the hostname, the firmware (CPython's
version). Values a PC cannot give in a board's terms are simulated and
change like a board's would: a 160 KiB heap that fills and is collected,
a 240 MHz clock, a chip temperature drifting around 42 C, a WiFi signal
wandering between -45 and -80 dBm. /api/status says "simulated": true.
"""

import hashlib
import math
import platform as _platform
import random
import shutil
import socket
import sys
import time

from probe import Probe

HEAP_TOTAL = 160 * 1024


class CPythonProbe(Probe):
    PLATFORM = "cpython"
    SIMULATED = True

    def __init__(self, cfg=None):
        Probe.__init__(self, cfg)
        self._start = time.monotonic()  # for the temperature's drift
        self._heap = 40 * 1024
        self._rssi = -58.0
        self._rand = random.Random()

    def _since_boot_ms(self, now):
        return 0

    def board(self):
        return self.cfg.get("board") or "simulated"

    def machine(self):
        return "Simulated board on %s %s" % (_platform.system(), _platform.machine())

    def firmware(self):
        return "CPython %d.%d.%d" % sys.version_info[:3]

    def hostname(self):
        return self.cfg.get("hostname") or socket.gethostname()

    def _step(self):
        # The heap grows as a MicroPython heap does between collections, then drops.
        self._heap += self._rand.randint(200, 3000)
        if self._heap > HEAP_TOTAL * 0.7:
            self._heap = 36 * 1024 + self._rand.randint(0, 4096)
        self._rssi += self._rand.uniform(-2.5, 2.5)
        self._rssi = min(-45.0, max(-80.0, self._rssi))

    def heap_used(self):
        return self._heap

    def heap_total(self):
        return HEAP_TOTAL

    def heap_free(self):
        return HEAP_TOTAL - self._heap

    def fs_free(self):
        return shutil.disk_usage(".").free

    def fs_total(self):
        return shutil.disk_usage(".").total

    def cpu_hz(self):
        return 240000000

    def temp_c(self):
        t = time.monotonic() - self._start
        return round(42 + 3 * math.sin(t / 90) + self._rand.uniform(-0.3, 0.3), 1)

    def wifi_mode(self):
        return "sta"

    def wifi_ssid(self):
        return self.cfg.get("wifi_ssid") or "simulated-wifi"

    def rssi_dbm(self):
        return int(round(self._rssi))

    def ip(self):
        return self.cfg.get("ip") or "127.0.0.1"

    def mac(self):
        # A stable, locally administered address made from the hostname.
        digest = hashlib.md5(self.hostname().encode()).digest()
        return ":".join("%02x" % b for b in b"\x02" + digest[:5])

    def reset_cause(self):
        return "power-on"
