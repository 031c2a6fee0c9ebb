"""Core behaviour over real sockets, on CPython and MicroPython alike."""

import json
import socket
import time

import pytest
from conftest import REPO, RUNTIMES, start_server


@pytest.fixture(scope="module", params=RUNTIMES)
def app(request, tmp_path_factory):
    server = start_server(
        request.param,
        REPO / "host_tests" / "apps" / "behaviour_app.py",
        tmp_path_factory.mktemp("core"),
    )
    server.runtime = request.param
    yield server
    server.stop()


def get(server, path, **kw):
    status, headers, body = server.request("GET", path, **kw)
    return status, headers, body


def as_json(body):
    return json.loads(body)


def status_of(raw):
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.") else None


# Routing --------------------------------------------------------------------


def test_converters(app):
    status, _, body = get(app, "/price/9.5")
    assert (status, as_json(body)) == (200, {"price": 9.5, "type": "float"})
    assert as_json(get(app, "/price/3")[2])["price"] == 3.0
    status, _, body = get(app, "/name/bob/7")
    assert as_json(body) == {"name": "bob", "n": 7, "params": {"name": "bob", "n": 7}}
    assert as_json(get(app, "/name/bob/-1")[2])["n"] == -1  # as zerodep's <int:...>
    for path in ("/price/abc", "/price/1.2.3", "/name/bob/x", "/name/bob/1-", "/name//7"):
        assert get(app, path)[0] == 404, path


def test_method_not_allowed_lists_allow(app):
    status, headers, body = app.request("POST", "/resource")
    assert status == 405
    allowed = {m.strip() for m in headers["allow"].split(",")}
    assert allowed == {"GET", "PUT", "DELETE", "HEAD", "OPTIONS"}
    assert as_json(body) == {"error": "Method Not Allowed"}
    assert app.request("PUT", "/resource")[2] == b'{"method": "PUT"}'
    assert app.request("DELETE", "/resource")[0] == 204


def test_head_and_options(app):
    status, headers, body = app.request("HEAD", "/big")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == "5000"
    status, headers, body = app.request("OPTIONS", "/resource")
    assert status == 204
    assert "PUT" in headers["allow"] and "HEAD" in headers["allow"]


# Request ----------------------------------------------------------------------


def test_request_attributes(app):
    raw = app.raw(
        b"POST /in%20spect?a=1&a=2&b=x%2By&c HTTP/1.1\r\nHost: h\r\n"
        b"X-Multi: one\r\nx-multi: two\r\nContent-Length: 5\r\nConnection: close\r\n\r\nh\xc3\xa9!!"
    )
    assert status_of(raw) == 200, raw
    data = as_json(raw.split(b"\r\n\r\n", 1)[1])
    assert data["path"] == "/in spect"
    assert data["query_string"] == "a=1&a=2&b=x%2By&c"
    # A blank value (c) is left out, as urllib.parse.parse_qs does.
    assert data["query_params"] == {"a": ["1", "2"], "b": ["x+y"]}
    assert data["x_multi"] == "one, two" and data["has_x_multi"] is True
    assert data["headers"]["host"] == "h"
    assert data["text"] == "hé!!" and data["body_length"] == 5
    assert data["client_host"] == "127.0.0.1" and data["client_port_ok"] and data["app_ok"]


def test_encoded_slash_stays_in_path_param(app):
    status, _, body = get(app, "/inspect/a%2Fb/c")
    assert as_json(body) == {"path": "/inspect/a/b/c", "rest": "a/b/c"}


def test_json_form_and_bad_json(app):
    status, _, body = app.request("POST", "/json", body=b'{"x": [1, 2]}')
    assert as_json(body) == {"data": {"x": [1, 2]}, "cached": True}
    status, _, body = app.request("POST", "/json", body=b"{not json")
    assert (status, as_json(body)) == (400, {"error": "request body is not valid JSON"})
    status, _, body = app.request(
        "POST",
        "/form",
        body=b"name=J%C3%BCrgen+M&tag=a&tag=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert as_json(body) == {"name": ["Jürgen M"], "tag": ["a", "b"]}


# Responses --------------------------------------------------------------------


def test_coercion_variants(app):
    status, headers, body = get(app, "/tuple-headers")
    assert (status, body, headers["x-custom"]) == (201, b"made", "yes")
    status, headers, body = get(app, "/list")
    assert (as_json(body), headers["content-type"]) == ([1, 2, 3], "application/json")
    status, headers, body = get(app, "/response")
    assert (status, body) == (202, b"<b>hi</b>")
    assert headers["content-type"] == "text/html" and headers["content-length"] == "9"


def test_streaming_chunks_and_empty_chunk(app):
    raw = app.raw(b"GET /stream HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n"
    status, _, body = get(app, "/stream-sync")
    assert body == b"s0;s1;s2;"


def test_streaming_http10_is_raw_and_closes(app):
    raw = app.raw(b"GET /stream HTTP/1.0\r\n\r\n")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"chunked" not in head and b"Connection: close" in head
    assert body == b"part0;part1;part2;"


def test_stream_failing_half_way_is_cut_off(app):
    raw = app.raw(b"GET /stream-fail HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"first;" in raw
    assert not raw.endswith(b"0\r\n\r\n")
    assert get(app, "/list")[0] == 200


# Hooks and errors -------------------------------------------------------------


def test_hooks(app):
    status, headers, body = get(app, "/short")
    assert (status, body, headers["x-after"]) == (403, b"blocked", "ran")
    status, headers, _ = get(app, "/nothing-here")
    assert status == 404 and headers["x-after"] == "ran"


def test_abort_and_http_exception(app):
    status, _, body = get(app, "/abort")
    assert (status, as_json(body)) == (418, {"error": "teapot here"})
    status, _, body = get(app, "/http-exception")
    assert (status, as_json(body)) == (409, {"error": "Conflict"})


def test_errorhandler_catches_subclasses(app):
    status, _, body = get(app, "/app-error")
    assert (status, as_json(body)) == (422, {"handled": "SpecificError"})


def test_uncaught_exception_is_500_and_logged(app):
    for path, secret in (("/crash", "traceback-secret"), ("/crash-sync", "sync-secret")):
        status, _, body = get(app, path)
        assert (status, as_json(body)) == (500, {"error": "Internal Server Error"})
        assert secret.encode() not in body
    time.sleep(0.2)
    output = app.output()
    assert "traceback-secret" in output and "Traceback" in output


# Connections --------------------------------------------------------------------


def test_keep_alive_and_pipelining(app):
    requests = b"".join(b"GET /price/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(5))
    requests += b"GET /list HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    raw = app.raw(requests)
    assert raw.count(b"HTTP/1.1 200 OK") == 6
    positions = [raw.index(b'{"price": %d.0' % i) for i in range(5)]
    assert positions == sorted(positions)
    assert raw.endswith(b"[1, 2, 3]")


def test_http10_closes_unless_keep_alive(app):
    raw = app.raw(b"GET /list HTTP/1.0\r\n\r\n", timeout=3)
    assert b"Connection: close" in raw and raw.endswith(b"[1, 2, 3]")
    with socket.create_connection(("127.0.0.1", app.port), timeout=3) as sock:
        sock.sendall(b"GET /list HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = _read_response(sock)
        assert b"Connection: keep-alive" in first
        sock.sendall(b"GET /list HTTP/1.0\r\n\r\n")
        assert _read_response(sock).endswith(b"[1, 2, 3]")


def _read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    fields = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = int(fields[0].split(b":")[1])
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


def test_idle_keep_alive_is_closed(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as sock:
        sock.sendall(b"GET /list HTTP/1.1\r\nHost: h\r\n\r\n")
        _read_response(sock)
        start = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, not by our timeout
        assert 0.5 < time.monotonic() - start < 4


def test_chunked_request_body(app):
    raw = app.raw(
        b"POST /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4;ext=1\r\n{\"a\"\r\n5\r\n: 12}\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert status_of(raw) == 200, raw
    assert as_json(raw.split(b"\r\n\r\n", 1)[1])["data"] == {"a": 12}


def test_expect_continue(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=3) as sock:
        sock.sendall(
            b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"[]")
        assert b'"data": []' in _read_response(sock)


# Bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /%ff%fe HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400),
        (b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", 400),
        (
            b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            400,
        ),
        (
            b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (b"POST /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 2048\r\n\r\n", 413),
        (b"POST /json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n", 413),
        (b"GET /" + b"a" * 400 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"v" * 1200 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: v\r\n" * 30 + b"\r\n", 431),
    ],
)
def test_bad_input_gets_clear_4xx(app, request_bytes, status):
    raw = app.raw(request_bytes)
    assert status_of(raw) == status, raw
    assert b"Connection: close" in raw
    assert get(app, "/list")[0] == 200


def test_read_timeout_is_a_deadline_for_the_head(app):
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /list HTTP/1.1\r\n")
        # Trickle a byte at a time: each byte must not extend the deadline.
        received = b""
        try:
            for _ in range(40):
                sock.sendall(b"X")
                time.sleep(0.1)
        except OSError:
            pass
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except OSError:
            pass
        assert status_of(received) == 408, received
        assert time.monotonic() - start < 4


def test_connection_cap_answers_503_then_recovers(app):
    held = [socket.create_connection(("127.0.0.1", app.port), timeout=5) for _ in range(6)]
    try:
        time.sleep(0.2)
        raw = app.raw(b"GET /list HTTP/1.1\r\nHost: h\r\n\r\n")
        assert status_of(raw) == 503, raw
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert get(app, "/list")[0] == 200


def test_memory_error_answers_503_and_server_goes_on(app):
    if app.runtime != "micropython":
        pytest.skip("exhausting the heap is only bounded under MicroPython")
    status, _, _ = get(app, "/memory")
    assert status == 503
    assert get(app, "/list")[0] == 200


def test_sync_handlers_run_in_worker_threads_on_cpython(app):
    if app.runtime != "cpython":
        pytest.skip("MicroPython runs sync handlers inline, by design")
    import threading

    results = {}

    def slow():
        results["slow"] = get(app, "/blocking")[2]

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.1)
    start = time.monotonic()
    assert get(app, "/list")[0] == 200
    assert time.monotonic() - start < 0.4  # not stuck behind the sleeping handler
    thread.join(5)
    assert results["slow"] == b"woke"


def test_server_runs_beside_other_tasks(serve):
    server = serve(REPO / "host_tests" / "apps" / "background_app.py")
    time.sleep(0.3)
    status, _, body = server.request("GET", "/ticks")
    assert status == 200 and json.loads(body)["ticks"] >= 3
    assert server.request("GET", "/stop")[2] == b"bye"
    assert server.wait(10) == 0
    assert "server returned after True" in server.output()


def test_sigterm_and_sigint_shut_down_gracefully(serve, runtime):
    if runtime != "cpython":
        pytest.skip("signals are handled by the CPython shim")
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):
        server = serve(REPO / "host_tests" / "apps" / "background_app.py")
        server.process.send_signal(signum)
        assert server.wait(10) == 0
        assert "server returned after" in server.output()


STREAMING_APP = """
import asyncio
from httpserver import App, StreamingResponse

app = App(shutdown_timeout=30)


@app.get("/endless")
async def endless(request):
    async def ticks():
        while True:
            yield "data: tick\\n\\n"
            await asyncio.sleep(0.05)
    return StreamingResponse(ticks(), content_type="text/event-stream")


@app.get("/count")
async def count(request):
    return {"connections": request.app.connections}


@app.get("/stop")
async def stop(request):
    request.app.shutdown()
    return "bye"


app.run(port=0)
"""


def test_shutdown_ends_open_streams_and_counts_connections(serve):
    server = serve(STREAMING_APP)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as stream:
        stream.sendall(b"GET /endless HTTP/1.1\r\nHost: h\r\n\r\n")
        received = b""
        while b"data: tick" not in received:
            received += stream.recv(4096)
        status, _, body = server.request("GET", "/count")
        assert json.loads(body) == {"connections": 2}
        start = time.monotonic()
        assert server.request("GET", "/stop")[2] == b"bye"
        assert server.wait(10) == 0
        # Not held for shutdown_timeout (30 s) by the endless stream.
        assert time.monotonic() - start < 5


def test_shutdown_from_sync_handler_last(app):
    assert get(app, "/sync-shutdown")[0] == 200
    assert app.wait(10) == 0
