"""An app written for zerodep's httpserver runs here as it does there.

The app is host_tests/apps/zerodep_app.py; each test is one behaviour a zerodep
app relies on, over a real socket, on CPython and MicroPython (the Unix socket
on CPython only, with a clear error on MicroPython).
"""

import json
import os
import socket
import subprocess
import time

import pytest
from conftest import REPO, RUNTIMES, runtime_command, runtime_env, start_server

APP = REPO / "host_tests" / "apps" / "zerodep_app.py"


def _public(folder):
    public = folder / "public"
    public.mkdir()
    (public / "hello.txt").write_text("hello from a file\n")
    return folder


@pytest.fixture(scope="module", params=RUNTIMES)
def app(request, tmp_path_factory):
    server = start_server(request.param, APP, _public(tmp_path_factory.mktemp("zerodep")))
    server.runtime = request.param
    yield server
    server.stop()


def get(app, path, method="GET", **kw):
    status, headers, body = app.request(method, path, **kw)
    return status, headers, json.loads(body) if body else None


# Error handlers ----------------------------------------------------------------


def test_http_errors_go_to_their_code_handler_before_a_catch_all(app):
    assert get(app, "/nope") == (
        404,
        get(app, "/nope")[1],
        {"handled_by": "404", "message": "Not Found"},
    )


def test_catch_all_handler_does_not_turn_an_http_error_into_500(app):
    status, _, body = get(app, "/conflict")
    assert (status, body) == (409, {"error": "Conflict"})


def test_handler_for_an_http_exception_class_catches_it(app):
    assert get(app, "/gone")[::2] == (410, {"handled_by": "Gone", "status": 410})


def test_catch_all_handler_takes_unexpected_exceptions(app):
    assert get(app, "/boom")[::2] == (500, {"handled_by": "Exception", "type": "RuntimeError"})


def test_http_exception_message_defaults_to_the_reason_phrase(app):
    assert get(app, "/message/409")[2] == {"message": "Conflict", "str": "Conflict"}
    assert get(app, "/message/404")[2] == {"message": "Not Found", "str": "Not Found"}


HANDLERS_APP = """
from httpserver import App, HTTPException, abort

app = App()


@app.errorhandler(HTTPException)
async def http_error(request, exc):
    return {"by": "HTTPException", "message": exc.message}, exc.status_code


@app.errorhandler(Exception)
async def anything(request, exc):
    return {"by": "Exception"}, 500


@app.errorhandler(400)
async def bad_request(request, exc):
    return {"by": "400", "message": exc.message}, 400


@app.get("/conflict")
async def conflict(request):
    abort(409)


@app.get("/boom")
async def boom(request):
    raise RuntimeError("boom")


@app.post("/json")
async def parse(request):
    return request.json()


app.run(port=0)
"""


def test_http_exception_handler_catches_what_no_code_handler_takes(serve):
    server = serve(HANDLERS_APP)
    assert get(server, "/nope")[::2] == (404, {"by": "HTTPException", "message": "Not Found"})
    assert get(server, "/conflict")[::2] == (409, {"by": "HTTPException", "message": "Conflict"})
    assert get(server, "/boom")[::2] == (500, {"by": "Exception"})
    # Invalid JSON is a 400 for the 400 handler, with a message as HTTPException's.
    status, _, body = get(server, "/json", "POST", body=b"{not json")
    assert (status, body) == (400, {"by": "400", "message": "request body is not valid JSON"})


def test_value_error_handler_catches_invalid_json(serve):
    # The guide's errorhandler(ValueError), as on zerodep where json raises a ValueError.
    server = serve(
        "from httpserver import App\n"
        "app = App()\n"
        "@app.errorhandler(ValueError)\n"
        "async def bad_value(request, exc):\n"
        "    return {'by': 'ValueError', 'error': str(exc)}, 422\n"
        "@app.post('/json')\n"
        "async def parse(request):\n"
        "    return request.json()\n"
        "app.run(port=0)\n"
    )
    status, _, body = get(server, "/json", "POST", body=b"{not json")
    assert (status, body) == (422, {"by": "ValueError", "error": "request body is not valid JSON"})


# Request bodies and queries ------------------------------------------------------


def test_invalid_json_is_a_value_error_a_handler_can_catch(app):
    status, _, body = get(app, "/json-caught", "POST", body=b"{not json")
    assert (status, body["caught"]) == (200, "ValueError")
    assert get(app, "/json-caught", "POST", body=b'{"a": 1}')[2] == {"data": {"a": 1}}


def test_uncaught_invalid_json_answers_400(app):
    # Neither the Exception handler nor a 500: a client error.
    status, _, body = get(app, "/json-uncaught", "POST", body=b"{not json")
    assert (status, body) == (400, {"error": "request body is not valid JSON"})


def test_blank_query_values_are_left_out(app):
    assert get(app, "/query?a=&b=1&c&d=2&d=")[2] == {"b": ["1"], "d": ["2"]}


# Routes ------------------------------------------------------------------------


def test_path_parameter_in_the_middle_of_a_pattern(app):
    assert get(app, "/mid/a/b/edit")[2] == {"p": "a/b"}
    assert get(app, "/mid/x/edit")[2] == {"p": "x"}
    assert get(app, "/mid//edit")[0] == 404


def test_parameter_inside_a_segment(app):
    assert get(app, "/file_7.txt")[2] == {"id": "7"}
    assert get(app, "/file_.txt")[0] == 404


def test_int_parameter_takes_negative_numbers(app):
    assert get(app, "/neg/-5")[2] == {"n": -5}
    assert get(app, "/neg/12")[2] == {"n": 12}
    for path in ("/neg/-", "/neg/5x", "/neg/--5"):
        assert get(app, path)[0] == 404, path


def test_literal_route_wins_over_a_parameter_registered_first(app):
    assert get(app, "/users/me")[2] == {"user": "literal me"}
    assert get(app, "/users/bob")[2] == {"user": "bob"}


def test_star_methods_accept_every_method(app):
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"):
        assert get(app, "/any", method)[::2] == (200, {"method": method}), method
    status, _, body = app.request("HEAD", "/any")
    assert (status, body) == (200, b"")


# Static files as the fallback --------------------------------------------------


def test_static_root_registered_first_does_not_shadow_routes(app):
    assert get(app, "/users/42")[2] == {"user": "42"}
    assert get(app, "/users/42/profile")[2] == {"profile": 42}
    status, headers, body = app.request("GET", "/hello.txt")
    assert (status, body) == (200, b"hello from a file\n")
    assert get(app, "/missing.txt")[::2] == (404, {"handled_by": "404", "message": "Not Found"})


def test_static_fallback_keeps_head_options_and_405(app):
    status, headers, body = app.request("HEAD", "/hello.txt")
    assert (status, body, headers["content-length"]) == (200, b"", "18")
    status, headers, _ = app.request("OPTIONS", "/hello.txt")
    assert status == 204 and "GET" in headers["allow"]
    status, headers, _ = app.request("POST", "/hello.txt")
    assert status == 405 and "GET" in headers["allow"]
    # A path a route claims is the route's, for every method: 405, not a file.
    status, headers, _ = app.request("GET", "/submit")
    assert (status, headers["allow"]) == (405, "POST, OPTIONS")


# Responses -----------------------------------------------------------------------


def test_file_response_second_argument_is_the_content_type(app):
    status, headers, body = app.request("GET", "/file-typed")
    assert (status, headers["content-type"], body) == (200, "text/x-custom", b"hello from a file\n")
    status, headers, _ = app.request("GET", "/file-status")
    assert status == 203
    status, headers, _ = app.request("GET", "/file-keywords")
    assert (status, headers["content-type"]) == (201, "text/x-kw")


def test_bytes_response_without_type_is_plain_text(app):
    status, headers, body = app.request("GET", "/bytes-response")
    assert (status, headers["content-type"], body) == (
        200,
        "text/plain; charset=utf-8",
        b"raw bytes",
    )
    # Bytes returned from a handler stay binary (the guide's coercion table).
    assert app.request("GET", "/bytes-returned")[1]["content-type"] == "application/octet-stream"


def test_app_host_and_port_are_the_bound_address(app):
    assert get(app, "/where")[2] == {"host": "127.0.0.1", "port": app.port}


def test_json_carries_non_ascii_text_as_utf8(app):
    data = ["h\u00e9 \u2603 \U0001f600 \x7f \u2028 \\u00e9", {"\u00fc": 1}]
    # The same bytes on both runtimes: CPython's json.dumps(ensure_ascii=False).
    assert app.request("GET", "/unicode")[2] == json.dumps(data, ensure_ascii=False).encode()


# Unix domain socket ----------------------------------------------------------------


def _start_on_unix_socket(runtime, folder, path):
    return subprocess.Popen(
        runtime_command(runtime) + [str(APP), str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(folder),
        env=runtime_env(runtime),
    )


def _unix_get(path, target):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(path))
        client.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target)
        data = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_run_serves_on_a_unix_socket(tmp_path):
    folder = _public(tmp_path)
    path = folder / "app.sock"
    # A socket file left behind by an earlier run is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    process = _start_on_unix_socket("cpython", folder, path)
    try:
        line = process.stdout.readline()
        assert line == b"Serving on http://unix:%s/\n" % os.fsencode(path), line
        assert os.stat(path).st_mode & 0o777 == 0o600
        reply = _unix_get(path, b"/where")
        assert reply.startswith(b"HTTP/1.1 200 "), reply
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"host": None, "port": None}
        assert _unix_get(path, b"/hello.txt").endswith(b"\r\n\r\nhello from a file\n")
        reply = _unix_get(path, b"/client")
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"client": ["unknown", 0]}
    finally:
        process.terminate()
        process.wait(10)
    deadline = time.monotonic() + 5
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not path.exists(), "the socket file stays after shutdown"


def test_unix_socket_does_not_replace_another_file(tmp_path):
    folder = _public(tmp_path)
    path = folder / "app.sock"
    path.write_text("precious")
    process = _start_on_unix_socket("cpython", folder, path)
    output = process.communicate(timeout=20)[0]
    assert process.returncode != 0
    assert b"not a socket, not replaced" in output, output
    assert path.read_text() == "precious"


def test_unix_socket_on_micropython_is_a_clear_error(tmp_path):
    process = _start_on_unix_socket("micropython", _public(tmp_path), tmp_path / "app.sock")
    output = process.communicate(timeout=20)[0]
    assert process.returncode != 0
    assert b"Unix socket (socket=) needs CPython" in output, output
