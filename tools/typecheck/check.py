#!/usr/bin/env python3
"""Type-check the code that runs on boards against MicroPython's stubs.

    python tools/typecheck/check.py [--install] [--stubs esp32|rp2] [-v]

Every module of lib/httpserver and device/ that deploy.py copies to a board
(so not the CPython-only ones) is checked with mypy against the stub packages
micropython-esp32-stubs (ESP32, ESP32-S3) and micropython-rp2-rpi_pico_w-stubs
(Pico W). Their reduced stdlib replaces CPython's (--custom-typeshed-dir), so
a module, function or method that exists on CPython but not on the board is
an error. A module named *_esp32.py, *_rp2.py, *_unix.py or *_cpython.py only
runs on that platform and is checked against its own stubs only (the last two
never).

What fails the check (portability errors):
  * import-not-found / import-untyped: a module the board does not have;
  * attr-defined on a module ("Module has no attribute ...") or on a type
    that is not one of the project's own classes (str, socket, StreamWriter,
    ...): an API the board does not have;
  * name-defined: a builtin the board does not have;
  * call-arg: arguments the board's function does not take.
Other mypy findings (annotations, Optional narrowing, the project's own
dynamic attributes) are printed with -v but do not fail. Code that is right
on a board and only looks wrong to the checker (a guarded CPython fallback)
takes a "# type: ignore[<code>]" comment.

The stubs are pip-installed into tools/typecheck/.stubs/<name>/ (--install,
or automatically when missing); MPY_STUBS_DIR points elsewhere.
"""

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STUB_SETS = {
    # name: (pip requirement, mypy --platform, boards using it)
    "esp32": ("micropython-esp32-stubs==1.29.*", "esp32", ("esp32", "esp32s3")),
    "rp2": ("micropython-rp2-rpi_pico_w-stubs==1.29.*", "rp2", ("pico_w",)),
}
PLATFORM_SUFFIXES = ("esp32", "rp2", "unix", "cpython")
FAILING_CODES = {"import-not-found", "import-untyped", "attr-defined", "name-defined", "call-arg"}
ERROR_RE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)\s+\[(?P<code>[a-z-]+)\]$"
)


def _deploy():
    spec = importlib.util.spec_from_file_location("_deploy", REPO / "tools" / "deploy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def stubs_dir(name):
    base = os.environ.get("MPY_STUBS_DIR")
    return Path(base) / name if base else HERE / ".stubs" / name


def ensure_stubs(name, install=True):
    """The folder holding the stub set; pip-installs it there when missing."""
    target = stubs_dir(name)
    if (target / "stdlib" / "VERSIONS").is_file() and (target / "machine.pyi").is_file():
        return target
    if not install:
        raise SystemExit("stubs %s missing in %s: run %s --install" % (name, target, __file__))
    requirement = STUB_SETS[name][0]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--upgrade",
            "--target",
            str(target),
            requirement,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(
            "pip install --target %s %s failed:\n%s" % (target, requirement, proc.stderr)
        )
    return target


def board_files(platform):
    """The .py files deploy.py puts on a board of this platform."""
    deploy = _deploy()
    files = []
    for top in (REPO / "lib" / "httpserver", REPO / "device"):
        for path in sorted(top.rglob("*.py")):
            if "__pycache__" in path.parts or deploy.cpython_only(path):
                continue
            stem = path.stem
            own = [s for s in PLATFORM_SUFFIXES if stem.endswith("_" + s)]
            if own and own[0] != platform:
                continue
            files.append(path)
    return files


def project_classes(files):
    names = set()
    for path in files:
        names.update(re.findall(r"^\s*class\s+(\w+)", path.read_text(), re.M))
    return names


def is_failing(err, own_classes):
    code, msg = err["code"], err["msg"]
    if code not in FAILING_CODES:
        return False
    if code == "attr-defined":
        if msg.startswith("Module"):
            return True
        m = re.match(r'(?:Item "\w+" of "[^"]*" has no attribute|"(\w+)" has no attribute)', msg)
        typename = m.group(1) if m else None
        return (
            typename is not None
            and typename not in own_classes
            and typename not in ("bool", "None")
        )
    return True


def check(name, files=None, install=True):
    """Run mypy for one stub set: (failing errors, other findings, files checked).

    files defaults to the board files of lib/ and device/; errors reported
    inside the stub packages themselves are not counted.
    """
    stubs = ensure_stubs(name, install)
    platform = STUB_SETS[name][1]
    files = [Path(f).resolve() for f in files] if files else board_files(platform)
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join([str(stubs), str(REPO / "lib"), str(REPO / "device")])
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(HERE / "mypy.ini"),
        "--custom-typeshed-dir",
        str(stubs),
        "--platform",
        platform,
        "--cache-dir",
        os.devnull,  # no incremental cache: it can hide errors
        "--no-error-summary",
        "--show-error-codes",
        "--no-color-output",
        "--hide-error-context",
    ] + [str(f) for f in files]
    proc = subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(
            "mypy failed to run (%d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr)
        )
    own = project_classes(files)
    checked = set(files)
    failing, other = [], []
    for line in proc.stdout.splitlines():
        m = ERROR_RE.match(line)
        if not m or (REPO / m.group("file")).resolve() not in checked:
            continue
        err = m.groupdict()
        err["stubs"] = name
        (failing if is_failing(err, own) else other).append(err)
    return failing, other, files


def fmt(err):
    return "%(file)s:%(line)s: [%(stubs)s] %(msg)s  [%(code)s]" % err


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="only install the stub packages")
    ap.add_argument(
        "--stubs",
        choices=sorted(STUB_SETS),
        action="append",
        help="stub set(s) to check against (default: all)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="also show non-failing findings")
    args = ap.parse_args(argv)
    names = args.stubs or sorted(STUB_SETS)
    if args.install:
        for name in names:
            print("stubs %s in %s" % (name, ensure_stubs(name)))
        return 0
    total = 0
    for name in names:
        failing, other, files = check(name)
        total += len(failing)
        print(
            "%s stubs: %d files, %d portability errors, %d other findings%s"
            % (
                name,
                len(files),
                len(failing),
                len(other),
                " (shown with -v; they do not fail)" if other and not args.verbose else "",
            )
        )
        for err in failing:
            print("  " + fmt(err))
        if args.verbose:
            for err in other:
                print("  (info) " + fmt(err))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
