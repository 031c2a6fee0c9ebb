"""VSHS route folders run unchanged over httpserver, on CPython and MicroPython.

The seed's own examples (hello-world, params/{route}, exception, http-error,
server-sent-events, the static index) are in host_tests/apps/vshs, started by
the seed's main.py; the folder is copied first so that nothing is written to
the repository.
"""

import json
import shutil
import socket
import subprocess
import time

import pytest
from conftest import REPO, RUNTIMES, as_on_a_board, start_server

VSHS_APP = REPO / "host_tests" / "apps" / "vshs"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module", params=RUNTIMES)
def app(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vshs") / "app"
    shutil.copytree(VSHS_APP, folder)
    server = start_server(
        request.param,
        folder / "main.py",
        folder,
        args=(free_port(),),
        **as_on_a_board(request.param, tmp_path_factory.mktemp("board")),
    )
    server.runtime = request.param
    server.folder = folder
    yield server
    output = server.stop()
    assert "MemoryError" not in output, output


def get(server, path, **kw):
    return server.request("GET", path, **kw)


def wait_for(server, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.output():
            return True
        time.sleep(0.05)
    return False


def status_of(raw):
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.") else None


# The seed's examples ------------------------------------------------------------------


def test_hello_world(app):
    status, headers, body = get(app, "/hello-world")
    assert (status, json.loads(body)) == (200, {"message": "Hello World"})
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"


def test_handler_parameters_as_in_the_seed(app):
    # curl -X POST -d '{"body": "A"}' http://localhost:8080/params/C?url=B
    status, _, body = app.request(
        "POST",
        "/params/C?url=B",
        body=b'{"body": "A"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, json.loads(body)) == (
        200,
        {"urlParams": {"url": "B"}, "bodyParams": {"body": "A"}, "pathParams": {"route": "C"}},
    )
    status, _, body = app.request("POST", "/params/caf%C3%A9?a=1&a=2&b=x+y")
    assert json.loads(body) == {
        "urlParams": {"a": ["1", "2"], "b": "x y"},
        "bodyParams": None,
        "pathParams": {"route": "caf\u00e9"},
    }


def test_route_variable_and_literal(app):
    assert get(app, "/hello-world/bob")[::2] == (200, b"Hello bob")
    assert json.loads(get(app, "/hello-world")[2]) == {"message": "Hello World"}
    assert get(app, "/hello-world/bob/more")[0] == 404


def test_exception_is_500_with_its_message(app):
    status, headers, body = get(app, "/exception")
    assert (status, body) == (500, b"Oups...")
    assert headers["content-type"].startswith("text/plain")
    assert wait_for(app, "Oups...") and "Traceback" in app.output()
    assert get(app, "/hello-world")[0] == 200


def test_http_error(app):
    status, _, body = get(app, "/http-error")
    assert (status, body) == (403, b"Forbidden Access")


def test_errors_route_writes_error_bodies(app):
    status, headers, body = get(app, "/teapot")
    assert (status, body) == (418, b"I'm a teapot: short and stout (/teapot)")
    assert headers["access-control-allow-origin"] == "*"


def test_static_index_and_files(app):
    status, headers, body = get(app, "/")
    assert (status, body) == (200, b"<b>Hello world</b>")
    assert headers["content-type"].startswith("text/html")
    status, headers, body = get(app, "/style.css")
    assert (status, body) == (200, b"body { color: red }")
    assert headers["content-type"].startswith("text/css")
    assert get(app, "/docs/")[2] == b"<h1>docs</h1>"
    # A folder without its slash is redirected to it (issue 17), where a
    # browser finds the index and its relative links work.
    status, headers, _ = get(app, "/docs")
    assert (status, headers["location"]) == (301, "/docs/")
    for path in ("/missing.txt", "/../main.py", "/%2e%2e/main.py", "/routes/exception/GET.py"):
        status, _, body = get(app, path)
        assert (status, body) == (404, b"Not Found"), path


def _open_stream(app, path, version=b"HTTP/1.1"):
    sock = socket.create_connection(("127.0.0.1", app.port), timeout=5)
    sock.sendall(b"GET " + path + b" " + version + b"\r\nHost: h\r\n\r\n")
    return sock


def _read_until(sock, marker, data=b""):
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_server_sent_events_seed_example(app):
    sock = _open_stream(app, b"/server-sent-events")
    try:
        start = time.monotonic()
        data = _read_until(sock, b"}\n\n")
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"Content-Type: text/event-stream" in head
        assert b"Transfer-Encoding: chunked" in head
        assert b'event: event_name\ndata: {"count": 1}\n\n' in body
        assert 0.8 < time.monotonic() - start < 3
    finally:
        sock.close()
    # The seed's run() catches what send() raises once the client has gone.
    assert wait_for(app, "Connection closed", 5), app.output()


def test_sse_until_the_run_ends(app):
    raw = app.raw(b"GET /sse-fast?n=3 HTTP/1.0\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Connection: close" in head and b"Cache-Control: no-cache" in head
    events = body.decode().split("\n\n")
    assert events[-1] == "" and len(events) == 4
    assert events[0].startswith("event: tick\ndata: ")
    assert json.loads(events[0].split("data: ")[1]) == {"count": 1, "text": "h\u00e9"}
    assert events[1].startswith("data: ") and json.loads(events[1][6:])["count"] == 2
    raw = app.raw(b"GET /sse-fast?n=2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert raw.endswith(b"\r\n0\r\n\r\n")


def test_sse_send_raises_once_the_client_has_gone(app):
    sock = _open_stream(app, b"/sse-fast")
    try:
        data = _read_until(sock, b'"count": 3')
        assert b'"count": 2' in data
    finally:
        sock.close()
    assert wait_for(app, "sse-fast: client gone after", 5), app.output()
    assert get(app, "/hello-world")[0] == 200


# Typing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, body, expected",
    [
        (None, b"", {"type": "None"}),
        ("application/json", b'{"a": [1, 2]}', {"type": "dict", "value": {"a": [1, 2]}}),
        ("application/json; charset=utf-8", b"[1]", {"type": "list", "value": [1]}),
        ("text/plain", b'{"k": "v"}', {"type": "dict", "value": {"k": "v"}}),
        (
            "text/plain;charset=UTF-8",
            "h\u00e9 there".encode(),
            {"type": "str", "value": "h\u00e9 there"},
        ),
        (
            "application/x-www-form-urlencoded",
            b"a=1&a=2&b=x+y",
            {"type": "dict", "value": {"a": ["1", "2"], "b": "x y"}},
        ),
        ("application/octet-stream", b"\x00\xff", {"type": "bytes", "value": [0, 255]}),
        (None, b"\x01\x02", {"type": "bytes", "value": [1, 2]}),
        (
            "image/svg+xml",
            b"<svg/>",
            {"type": "Blob", "mime": "image/svg+xml", "text": "<svg/>", "size": 6},
        ),
    ],
)
def test_request_body_typed_by_content_type(app, content_type, body, expected):
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, answer = app.request("POST", "/body-type", headers=headers, body=body)
    assert (status, json.loads(answer)) == (200, expected)


@pytest.mark.parametrize(
    "kind, content_type, body",
    [
        ("str", "text/plain", b"plain text"),
        ("bytes", "application/octet-stream", b"\x00\x01\x02"),
        ("blob", "image/svg+xml", b"<svg/>"),
        ("multidict", "application/x-www-form-urlencoded", b"a=1&a=2&b=x+y"),
        ("list", "application/json", b'[1, "two", null]'),
        ("none", "application/json", b"null"),
    ],
)
def test_answer_typed_by_value(app, kind, content_type, body):
    status, headers, answer = get(app, "/answer/" + kind)
    assert (status, answer) == (200, body)
    assert headers["content-type"].split(";")[0] == content_type


def test_url_and_route_objects(app):
    data = json.loads(get(app, "/answer/url?x=1&y")[2])
    assert data == {
        "path": "/answer/url",
        "query_string": "x=1&y",
        "str": "http://127.0.0.1:%d/answer/url?x=1&y" % app.port,
        "route": "/answer/{kind}/GET",
    }
    status, _, body = get(app, "/answer/what")
    assert (status, body) == (500, b"unknown kind what")


# Bad input -------------------------------------------------------------------------------


def test_bad_bodies_get_400(app):
    status, headers, body = app.request(
        "POST", "/body-type", body=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (status, body) == (400, b"request body is not valid JSON")
    assert headers["access-control-allow-origin"] == "*"
    status, _, body = app.request(
        "POST", "/body-type", body=b"\xff\xfe", headers={"Content-Type": "text/plain"}
    )
    assert (status, body) == (400, b"request body is not valid UTF-8")
    assert (
        app.request("POST", "/body-type", body=b"[]", headers={"Content-Type": "application/json"})[
            0
        ]
        == 200
    )


def test_unknown_routes_and_methods(app):
    assert get(app, "/no/such/route")[::2] == (404, b"Not Found")
    status, headers, body = app.request("DELETE", "/hello-world")
    assert (status, body) == (405, b"Method Not Allowed")
    assert set(m.strip() for m in headers["allow"].split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert app.request("GET", "/body-type")[0] == 405
    status, headers, body = app.request("OPTIONS", "/anything")
    assert (status, body) == (200, b"")
    assert "GET" in headers["access-control-allow-methods"]
    status, headers, body = app.request("HEAD", "/hello-world")
    assert (status, body) == (200, b"") and int(headers["content-length"]) > 0


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /hello-world HTTP/1.1\r\n\r\n", 400),
        (b"GET /hello-world HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n", 400),
        (b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"POST /body-type HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /body-type HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 413),
    ],
)
def test_malformed_requests_get_4xx_and_server_goes_on(app, request_bytes, status):
    raw = app.raw(request_bytes)
    assert status_of(raw) == status, raw
    assert get(app, "/hello-world")[0] == 200


def test_route_files_are_read_once_at_start_up(app):
    routes = app.folder / "routes"
    (routes / "late").mkdir()
    (routes / "late" / "GET.py").write_text(
        "async def default(url, body, route):\n    return 'late'\n"
    )
    (routes / "hello-world" / "GET.py").write_text(
        "async def default(url, body, route):\n    return 'changed'\n"
    )
    assert get(app, "/late")[0] == 404
    assert json.loads(get(app, "/hello-world")[2]) == {"message": "Hello World"}


# Start-up ----------------------------------------------------------------------------------


def test_missing_routes_folder_is_a_clear_error(runtime, tmp_path):
    script = tmp_path / "main.py"
    script.write_text(
        "import asyncio\nfrom VSHS import startHTTPServer\n"
        "asyncio.run(startHTTPServer(hostname='127.0.0.1', port=0, routes='/nowhere'))\n"
    )
    with pytest.raises(RuntimeError) as failure:
        start_server(runtime, script, tmp_path)
    assert "no routes folder" in str(failure.value)


def test_precompiled_route_on_micropython(runtime, tmp_path):
    if runtime != "micropython":
        pytest.skip(".mpy route files are a MicroPython feature")
    if shutil.which("mpy-cross") is None:
        pytest.skip("mpy-cross is not installed")
    folder = tmp_path / "routes" / "compiled" / "{n}"
    folder.mkdir(parents=True)
    source = folder / "GET.py"
    source.write_text("async def default(url, body, route):\n    return {'n': route.vars['n']}\n")
    subprocess.run(["mpy-cross", str(source)], check=True)
    source.unlink()
    script = tmp_path / "main.py"
    script.write_text(
        "import asyncio\nfrom VSHS import startHTTPServer\n"
        "asyncio.run(startHTTPServer(hostname='127.0.0.1', port=0, routes='/routes'))\n"
    )
    server = start_server(runtime, script, tmp_path)
    try:
        assert json.loads(server.request("GET", "/compiled/7")[2]) == {"n": "7"}
    finally:
        server.stop()
