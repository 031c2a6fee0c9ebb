"""The App as an ASGI application: the core's and the guide's behaviour tests,
run against uvicorn serving the very same app modules, plus in-process checks
of lifespan, disconnects and limits.

The app modules call app.run() at import; host_tests/apps/asgi_serve.py turns
that into a no-op and serves the module's `app` with uvicorn instead.
"""

import asyncio
import json
import signal
import threading
import time

import pytest

pytest.importorskip("uvicorn")

from conftest import REPO, start_server  # noqa: E402
from test_guide import lay_out_guide_files  # noqa: E402

APPS = REPO / "host_tests" / "apps"
SERVE = APPS / "asgi_serve.py"


def start_uvicorn(module, cwd, *extra):
    server = start_server("cpython", SERVE, cwd, args=(module,) + extra, pythonpath=(APPS,))
    server.runtime = "uvicorn"
    return server


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    server = start_uvicorn("behaviour_app", tmp_path_factory.mktemp("asgi_core"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asgi_guide")
    lay_out_guide_files(folder)
    server = start_uvicorn("guide_app", folder)
    yield server
    server.stop()


# The core's behaviour tests, unchanged, against uvicorn. Left out: what the
# ASGI server owns (parsing errors and their statuses, read deadline,
# connection cap, HTTP/1.0 keep-alive header spelling) and MicroPython's heap.
from test_core import (  # noqa: E402,F401
    test_abort_and_http_exception,
    test_chunked_request_body,
    test_coercion_variants,
    test_converters,
    test_encoded_slash_stays_in_path_param,
    test_errorhandler_catches_subclasses,
    test_expect_continue,
    test_head_and_options,
    test_hooks,
    test_idle_keep_alive_is_closed,
    test_json_form_and_bad_json,
    test_keep_alive_and_pipelining,
    test_method_not_allowed_lists_allow,
    test_request_attributes,
    test_stream_failing_half_way_is_cut_off,
    test_streaming_chunks_and_empty_chunk,
    test_uncaught_exception_is_500_and_logged,
)

# The guide's examples (static files, precompressed files, SSE, FileResponse,
# error handlers, coercion) against uvicorn.
from test_guide import (  # noqa: E402,F401
    test_auth_hook_short_circuits,
    test_echo,
    test_error_handlers,
    test_file_response,
    test_hello_and_cors,
    test_int_converter_mismatch_is_custom_404,
    test_multi_method_route,
    test_path_parameters,
    test_query_and_headers,
    test_return_coercion,
    test_sse_stream,
    test_static_files,
    test_static_never_leaves_its_directory,
    test_static_precompressed,
    test_sync_handler,
)


def test_http10_stream_is_raw_and_closes(app):
    raw = app.raw(b"GET /stream HTTP/1.0\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"chunked" not in head.lower()
    assert body == b"part0;part1;part2;"


def test_body_over_max_body_size_is_413(app):
    raw = app.raw(b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 2048\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 413 "), raw
    raw = app.raw(
        b"POST /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 413 "), raw
    assert app.request("GET", "/list")[0] == 200


# In-process: the ASGI protocol itself ------------------------------------------


def run_asgi(app, scope, messages):
    """Call app(scope, receive, send) with messages; return what it sent."""
    sent = []

    async def main():
        queue = list(messages)

        async def receive():
            if queue:
                return queue.pop(0)
            await asyncio.sleep(3600)

        async def send(message):
            sent.append(message)

        await asyncio.wait_for(app(scope, receive, send), 5)

    asyncio.run(main())
    return sent


def http_scope(path, method="GET", headers=(), root_path=""):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
        "query_string": b"q=1",
        "headers": list(headers),
        "client": ("10.0.0.1", 1234),
        "server": ("127.0.0.1", 8000),
    }


def make_app():
    from httpserver import App

    return App(max_body_size=10)


def test_in_process_request_mapping_and_root_path():
    app = make_app()

    @app.post("/items/<int:n>")
    async def items(request, n):
        return {
            "n": n,
            "scheme": request.scheme,
            "q": request.query_params,
            "client": list(request.client_addr),
            "body": request.text(),
            "cookie": request.headers["cookie"],
            "path": request.path,
        }

    sent = run_asgi(
        app,
        http_scope(
            "/items/7",
            "POST",
            [(b"cookie", b"a=1"), (b"Cookie", b"b=2"), (b"content-length", b"4")],
            root_path="/api",
        ),
        [
            {"type": "http.request", "body": b"ab", "more_body": True},
            {"type": "http.request", "body": b"cd", "more_body": False},
        ],
    )
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])
    assert int(headers[b"Content-Length"]) == len(sent[1]["body"])
    assert len(sent) == 2 and sent[1]["more_body"] is False
    assert json.loads(sent[1]["body"]) == {
        "n": 7,
        "scheme": "https",
        "q": {"q": ["1"]},
        "client": ["10.0.0.1", 1234],
        "body": "abcd",
        "cookie": "a=1; b=2",
        "path": "/items/7",
    }


def test_in_process_streamed_route_reads_the_body_and_the_app_starts():
    app = make_app()

    @app.post("/upload", stream=True)
    async def upload(request):
        return {"pieces": [len(piece) async for piece in request.stream(4)]}

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = run_asgi(app, {"type": "lifespan"}, messages)
    assert sent[0]["type"] == "lifespan.startup.complete", sent
    sent = run_asgi(
        app,
        http_scope("/upload", "POST", [(b"content-length", b"10")]),
        [{"type": "http.request", "body": b"0123456789", "more_body": False}],
    )
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"pieces": [4, 4, 2]}


def test_in_process_413_runs_error_handler_and_closes():
    app = make_app()

    @app.post("/up")
    async def up(request):
        return "never"

    @app.errorhandler(413)
    async def too_big(request, exc):
        return {"too": "big"}, 413

    sent = run_asgi(app, http_scope("/up", "POST", [(b"content-length", b"11")]), [])
    assert sent[0]["status"] == 413
    assert (b"Connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {"too": "big"}


def test_in_process_memory_error_is_503():
    app = make_app()

    @app.get("/hog")
    async def hog(request):
        raise MemoryError()

    sent = run_asgi(app, http_scope("/hog"), [{"type": "http.request", "body": b""}])
    assert sent[0]["status"] == 503


def test_in_process_head_sends_no_body():
    app = make_app()

    @app.get("/text")
    async def text(request):
        return "hello"

    sent = run_asgi(app, http_scope("/text", "HEAD"), [{"type": "http.request"}])
    assert dict(sent[0]["headers"])[b"Content-Length"] == b"5"
    assert sent[1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_in_process_large_file_goes_out_in_blocks(tmp_path):
    from httpserver import FileResponse

    app = make_app()
    data = bytes(range(256)) * 1024  # 256 KiB
    (tmp_path / "big.bin").write_bytes(data)

    @app.get("/big")
    async def big(request):
        return FileResponse(tmp_path / "big.bin")

    sent = run_asgi(app, http_scope("/big"), [{"type": "http.request"}])
    bodies = [m for m in sent[1:]]
    assert b"".join(m["body"] for m in bodies) == data
    assert len(bodies) > 2 and max(len(m["body"]) for m in bodies) <= 2 * 65536
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]


def test_in_process_disconnect_stops_a_stream():
    from httpserver import App, StreamingResponse

    app = App()
    state = {"chunks": 0, "closed": False}

    @app.get("/forever")
    async def forever(request):
        async def events():
            try:
                while True:
                    state["chunks"] += 1
                    yield "tick\n"
                    await asyncio.sleep(0.01)
            finally:
                state["closed"] = True

        return StreamingResponse(events(), content_type="text/plain")

    sent = []

    async def main():
        calls = {"n": 0}

        async def receive():
            calls["n"] += 1
            if calls["n"] == 1:
                return {"type": "http.request", "body": b""}
            await asyncio.sleep(0.1)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await asyncio.wait_for(app(http_scope("/forever"), receive, send), 5)
        await asyncio.sleep(0.05)

    asyncio.run(main())
    assert 2 <= state["chunks"] < 50 and state["closed"]
    assert all(m.get("more_body", True) for m in sent[1:])


def test_in_process_lifespan():
    from httpserver import App

    app = App()
    calls = []
    if hasattr(app, "on_startup"):
        app.on_startup(lambda: calls.append("start"))

        @app.on_shutdown
        async def stop():
            calls.append("stop")

    sent = run_asgi(
        app,
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert app.server is not None  # app.shutdown() has something to stop
    if hasattr(app, "on_startup"):
        assert calls == ["start", "stop"]


def test_in_process_lifespan_startup_failure():
    from httpserver import App

    app = App()
    if not hasattr(app, "on_startup"):
        pytest.skip("the core has no App.on_startup yet")

    @app.on_startup
    def broken():
        raise RuntimeError("no config")

    sent = run_asgi(app, {"type": "lifespan"}, [{"type": "lifespan.startup"}])
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "no config" in sent[0]["message"]


def test_uvicorn_with_ssl(tmp_path):
    from test_tls import https_get, make_certificate

    cert, key = make_certificate(tmp_path)
    server = start_uvicorn(
        "behaviour_app", tmp_path, "--certfile", cert["pem"], "--keyfile", key["pem"]
    )
    try:
        status, body = https_get(server.port, "/name/tls/1", cert["pem"])
        assert (status, json.loads(body)["name"]) == (200, "tls")
        status, body = https_get(server.port, "/list", cert["pem"])
        assert body == b"[1, 2, 3]"
    finally:
        server.stop()


# app.shutdown() under uvicorn sends the process SIGTERM: uvicorn stops
# accepting, finishes what is in flight, then re-raises the signal so that
# the process ends the way a stopped service does (status -SIGTERM).


def test_graceful_shutdown_stops_uvicorn(guide):
    status, _, body = guide.request("POST", "/shutdown", headers={"Authorization": "Bearer t"})
    assert (status, json.loads(body)) == (200, {"status": "shutting down"})
    assert guide.wait(10) == -signal.SIGTERM


def test_shutdown_from_sync_handler_last(app):
    slow = {}

    def in_flight():
        slow["result"] = app.request("GET", "/slow")

    thread = threading.Thread(target=in_flight)
    thread.start()
    time.sleep(0.1)
    assert app.request("GET", "/sync-shutdown")[0] == 200
    thread.join(10)
    assert slow["result"][0] == 200 and slow["result"][2] == b"slow done"
    assert app.wait(10) == -signal.SIGTERM
