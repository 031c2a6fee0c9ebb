"""picohttp programs run unchanged over httpserver, on CPython and MicroPython."""

import json
import socket
import threading
import time

import pytest
from conftest import REPO, RUNTIMES, as_on_a_board, start_server

APPS = REPO / "host_tests" / "apps"
EXAMPLE = APPS / "picohttp_example.py"
RUN = APPS / "picohttp_run.py"
APP = APPS / "picohttp_app.py"


def status_of(raw):
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.") else None


def split(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    return lines[0], headers, body


@pytest.fixture(scope="module", params=RUNTIMES)
def app(request, tmp_path_factory):
    server = start_server(
        request.param,
        APP,
        tmp_path_factory.mktemp("pico"),
        args=("threads",),
        **as_on_a_board(request.param, tmp_path_factory.mktemp("board")),
    )
    server.runtime = request.param
    yield server
    output = server.stop()
    assert "MemoryError" not in output, output


# The seed's example, as written ---------------------------------------------------


def test_seed_example_as_written(serve):
    server = serve(RUN, args=(0, EXAMPLE))
    raw = server.raw(b"GET /hello HTTP/1.0\r\n\r\n")
    status_line, headers, body = split(raw)
    assert status_line == b"HTTP/1.0 200 OK"
    assert (body, headers["content-length"], headers["connection"]) == (
        b"Hello world!",
        "12",
        "close",
    )
    assert server.request("GET", "/goodbye")[::2] == (200, b"Goodbye cruel world")
    assert server.request("GET", "/goodbye/and/more?x=1")[::2] == (200, b"Goodbye cruel world")
    for path in ("/", "/nothing", "/hello2"):
        status, headers, body = server.request("GET", path)
        assert (status, body, headers["content-length"]) == (404, b"", "0"), path


def test_seed_example_closes_every_connection(serve):
    server = serve(RUN, args=(0, EXAMPLE))
    # Two requests on one HTTP/1.1 connection: only the first is answered,
    # then the server closes (raw returns at the close, well before its timeout).
    start = time.monotonic()
    raw = server.raw(
        b"GET /hello HTTP/1.1\r\nHost: h\r\n\r\nGET /goodbye HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    assert time.monotonic() - start < 3
    assert raw.count(b"HTTP/1.") == 1 and raw.endswith(b"Hello world!")
    assert b"Connection: close" in raw


def test_seed_example_listens_on_the_port_it_is_given(serve):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve(RUN, args=(port, EXAMPLE))
    assert server.port == port
    assert server.request("GET", "/hello")[2] == b"Hello world!"


# Request and response ----------------------------------------------------------------


def test_request_fields_and_args(app):
    status, headers, body = app.request(
        "PUT",
        "/echo/a%20b/c/?x=1&y=two+words&x=3&flag",
        headers={"X-Test": "yes", "Content-Type": "text/plain"},
        body="h\u00e9!".encode(),
    )
    assert status == 200 and headers["content-type"] == "application/json"
    data = json.loads(body)
    assert data["method"] == "PUT"
    assert data["path"] == ["echo", "a b", "c"]
    assert data["query"] == {"x": "3", "y": "two words", "flag": ""}
    assert data["protocol"] == "HTTP/1.1"
    assert data["host"] == "127.0.0.1:%d" % app.port
    assert data["x_test"] == "yes" and data["has_x_test"] is True
    assert data["data"] == "h\u00e9!"
    assert data["args"] == ["t", 7]


def test_request_data_none_empty_or_bytes(app):
    assert json.loads(app.request("GET", "/echo")[2])["data"] is None
    assert json.loads(app.request("POST", "/echo", body=b"")[2])["data"] == ""
    raw = app.raw(b"POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\n\xff\x00")
    assert json.loads(split(raw)[2])["data"] == {"bytes": [255, 0]}
    assert json.loads(split(raw)[2])["protocol"] == "HTTP/1.0"


def test_any_method_reaches_the_handler(app):
    for method in ("DELETE", "PATCH", "OPTIONS", "BREW"):
        status, _, body = app.request(method, "/echo")
        assert (status, json.loads(body)["method"]) == (200, method)


def test_response_status_protocol_headers(app):
    raw = app.raw(b"GET /teapot HTTP/1.1\r\nHost: h\r\n\r\n")
    status_line, headers, body = split(raw)
    assert status_line.startswith(b"HTTP/1.1 418")
    assert headers["x-pot"] == "short" and body == b"tea"
    assert headers["connection"] == "close"  # the handler's keep-alive is not honoured
    status, headers, body = app.request("GET", "/bytes")
    assert (status, body, headers["content-length"]) == (200, b"\x00\x01\xfe\xff", "4")
    assert headers["content-type"] == "application/octet-stream"
    status, headers, body = app.request("GET", "/unicode")
    assert body.decode() == "h\u00e9llo" and headers["content-length"] == "6"
    assert headers["content-type"].startswith("text/plain")


def test_head_sends_no_body(app):
    raw = app.raw(b"HEAD /unicode HTTP/1.0\r\n\r\n")
    status_line, headers, body = split(raw)
    assert status_line == b"HTTP/1.0 200 OK" and headers["content-length"] == "6" and body == b""


# Errors --------------------------------------------------------------------------------


def test_handler_exception_is_500_and_server_goes_on(app):
    status, _, body = app.request("GET", "/crash")
    assert (status, body) == (500, b"handler-failed-here\n")
    for path in ("/badheader", "/baddata"):
        status, _, body = app.request("GET", path)
        assert status == 500 and b"Injected" not in body, path
    assert app.request("GET", "/calls")[0] == 200
    time.sleep(0.2)
    output = app.output()
    assert "handler-failed-here" in output and "Traceback" in output


def test_invalid_json_body_is_a_400_from_the_handler(app):
    status, _, body = app.request("POST", "/json", body=b'{"a": [1, 2]}')
    assert (status, json.loads(body)) == (200, {"got": {"a": [1, 2]}})
    status, _, body = app.request("POST", "/json", body=b"{not json")
    assert (status, body) == (400, b"request body is not valid JSON\n")


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /echo\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET /echo HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", 400),
        (b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999\r\n\r\n", 413),
        (b"GET /echo HTTP/3.0\r\nHost: h\r\n\r\n", 505),
    ],
)
def test_malformed_requests_get_4xx_without_reaching_the_handler(app, request_bytes, status):
    before = int(app.request("GET", "/calls")[2])
    raw = app.raw(request_bytes)
    assert status_of(raw) == status, raw
    after = int(app.request("GET", "/calls")[2])
    assert after == before + 1  # only the /calls request itself


# threads, start, block --------------------------------------------------------------------


def _timed_parallel(server, path, count=2):
    results = []

    def fetch():
        results.append(server.request("GET", path)[2])

    workers = [threading.Thread(target=fetch) for _ in range(count)]
    start = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [b"slept"] * count
    return time.monotonic() - start


def test_threads_true_handles_requests_concurrently(serve, runtime):
    server = serve(APP, args=("async",))
    assert _timed_parallel(server, "/sleep?s=0.5") < 0.9  # async handlers overlap everywhere
    server = serve(APP, args=("threads",))
    elapsed = _timed_parallel(server, "/sleep?s=0.5")
    if runtime == "cpython":
        assert elapsed < 0.9  # a worker thread per request
    else:
        assert elapsed >= 1.0  # no threads: a sync handler holds the loop


def test_threads_false_handles_one_request_at_a_time(serve):
    server = serve(APP, args=("async-sequential",))
    assert _timed_parallel(server, "/sleep?s=0.3") >= 0.6
    server = serve(APP, args=("sequential",))
    assert _timed_parallel(server, "/sleep?s=0.3") >= 0.6
    assert server.request("GET", "/echo")[0] == 200


def test_start_false_waits_for_start(serve):
    server = serve(APP, args=("deferred",))
    assert server.output().index("constructed, not started") < server.output().index("Serving on")
    assert json.loads(server.request("GET", "/echo")[2])["args"] == ["d", None]


def test_block_false_returns_and_keeps_serving(serve):
    server = serve(APP, args=("background",))
    time.sleep(0.2)
    assert "start returned" in server.output()
    first = int(server.request("GET", "/ticks")[2])
    time.sleep(0.3)
    second = int(server.request("GET", "/ticks")[2])
    assert second > first > 0  # the program's own loop runs beside the server
    assert json.loads(server.request("GET", "/echo")[2])["args"] == ["bg", None]
