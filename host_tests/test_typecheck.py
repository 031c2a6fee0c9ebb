"""The code that runs on boards type-checks against MicroPython's stubs
(micropython-esp32-stubs, micropython-rp2-rpi_pico_w-stubs), so that nothing
CPython-only slips into it. See tools/typecheck/check.py.

The stub packages are pip-installed into tools/typecheck/.stubs/ on first use
(or ahead of time: python tools/typecheck/check.py --install)."""

import importlib.util
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def mypy_installed():
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed (pip install mypy)")


def load_check():
    spec = importlib.util.spec_from_file_location(
        "typecheck_under_test", REPO / "tools" / "typecheck" / "check.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


check = load_check()
STUB_SETS = sorted(check.STUB_SETS)


@pytest.mark.parametrize("stubs", STUB_SETS)
def test_board_code_has_no_cpython_only_api(stubs):
    failing, other, files = check.check(stubs)
    names = {f.name for f in files}
    assert "__init__.py" in names and "main.py" in names, "nothing checked: %s" % names
    assert not any(check._deploy().cpython_only(f) for f in files)
    assert not failing, "CPython-only API in board code:\n" + "\n".join(
        check.fmt(e) for e in failing
    )


@pytest.mark.parametrize("stubs", STUB_SETS)
def test_the_check_catches_cpython_only_code(stubs, tmp_path):
    """The check can fail: CPython-only modules and functions are caught.

    (Methods of builtin types and os/sys functions are not: the stub packages'
    reduced stdlib still lists CPython's. The behaviour tests on the unix port
    cover those.)"""
    bad = tmp_path / "bad_module.py"
    bad.write_text(
        textwrap.dedent("""\
        import logging
        import time
        import asyncio
        import socket


        def uptime():
            return time.monotonic()


        async def loop_time():
            return asyncio.get_running_loop().time()


        def name():
            return socket.gethostname()
        """)
    )
    good = tmp_path / "good_module.py"
    good.write_text(
        textwrap.dedent("""\
        import time
        import gc


        def uptime_ms():
            return time.ticks_diff(time.ticks_ms(), 0)


        def free():
            gc.collect()
            return gc.mem_free()
        """)
    )
    failing, _, _ = check.check(stubs, files=[bad])
    text = "\n".join(check.fmt(e) for e in failing)
    assert "logging" in text
    assert "monotonic" in text
    assert "get_running_loop" in text
    assert "gethostname" in text
    failing, _, _ = check.check(stubs, files=[good])
    assert not failing, "\n".join(check.fmt(e) for e in failing)


USER_APP = """\
from httpserver import App, HTTPException, JSONResponse, Request, Response, StreamingResponse

app = App(max_body_size=65536, read_timeout=5.0)


@app.get("/items/<int:number>")
async def item(request: Request, number: int) -> Response:
    query: dict[str, list[str]] = request.query_params
    agent: str | None = request.headers.get("user-agent")
    if number < 0:
        raise HTTPException(404, "no such item")
    return JSONResponse({"number": number, "query": query, "agent": agent})


@app.post("/stream")
def stream(request: Request) -> StreamingResponse:
    return StreamingResponse(iter([request.body, b"!"]), content_type="text/plain")


@app.post("/upload", stream=True, max_body_size=1 << 20)
async def upload(request: Request) -> dict[str, int]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    rest: bytes = await request.read(10)
    return {"size": size + len(rest)}


@app.errorhandler(404)
async def missing(request: Request, exc: Exception) -> Response:
    return Response("gone", 404)


port: int | None = app.port
"""

# Each line a mistake the hints must catch, as mypy words it.
USER_MISTAKES = {
    'app = App(max_body_size="1M")': 'incompatible type "str"',
    "app.route(42)": 'incompatible type "int"',
    "method: int = Request.method": "incompatible types in assignment",
    'Response("body", status_code="200")': 'incompatible type "str"',
    "app.shutdown(1)": "too many arguments",
}


def run_mypy_as_a_user(tmp_path, source):
    """mypy on a user's module, finding httpserver as an installed package
    would be found (its own folder on the path, its py.typed marker)."""
    import subprocess
    import sys

    (tmp_path / "user_app.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--strict", "user_app.py"],
        cwd=str(tmp_path),
        env={**__import__("os").environ, "MYPYPATH": str(REPO / "lib")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_user_app_type_checks_against_the_public_api(tmp_path):
    assert (REPO / "lib" / "httpserver" / "py.typed").is_file()
    good = run_mypy_as_a_user(tmp_path, USER_APP)
    errors = [line for line in good.stdout.splitlines() if "user_app.py" in line]
    assert good.returncode == 0 and not errors, good.stdout + good.stderr
    mistakes = "from httpserver import App, Request, Response\n\napp = App()\n"
    mistakes += "\n".join(USER_MISTAKES) + "\n"
    bad = run_mypy_as_a_user(tmp_path, mistakes)
    lines = bad.stdout.lower().splitlines()
    for number, (code, wording) in enumerate(USER_MISTAKES.items(), start=4):
        found = [line for line in lines if "user_app.py:%d:" % number in line]
        assert any(wording in line for line in found), (code, found, bad.stdout)
