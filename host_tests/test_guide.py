"""The guide's examples, all in one app, behave as the guide says on both runtimes.

Under MicroPython the app is loaded from .py source (as `mpremote cp` leaves
it) and the library as tools/deploy.py puts it on a board (.mpy), with the
heap capped at 128K.
"""

import gzip
import json

import pytest
from conftest import REPO, RUNTIMES, as_on_a_board, start_server

AUTH = {"Authorization": "Bearer t"}


def lay_out_guide_files(folder):
    """The files the guide app serves, and the ones it must never serve."""
    public = folder / "public"
    public.mkdir()
    (public / "style.css").write_text("body { color: red }")
    (public / "index.html").write_text("<h1>home</h1>")
    (public / "app.js.gz").write_bytes(gzip.compress(b"console.log('gz')"))
    (public / "app.js").write_text("console.log('plain')")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 40)
    (folder / "secret.txt").write_text("do not serve")
    (folder / "public-private").mkdir()
    (folder / "public-private" / "key.txt").write_text("sibling secret")


@pytest.fixture(scope="module", params=RUNTIMES)
def guide(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("guide")
    lay_out_guide_files(folder)
    server = start_server(
        request.param,
        REPO / "host_tests" / "apps" / "guide_app.py",
        folder,
        **as_on_a_board(request.param, tmp_path_factory.mktemp("board")),
    )
    yield server
    output = server.stop()
    assert "MemoryError" not in output, output


def get_json(server, path, headers=AUTH, method="GET", body=None):
    status, headers_out, data = server.request(method, path, headers=headers, body=body)
    return status, headers_out, json.loads(data) if data else None


def test_hello_and_cors(guide):
    status, headers, data = get_json(guide, "/hello")
    assert (status, data) == (200, {"message": "Hello, World!"})
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"


def test_auth_hook_short_circuits(guide):
    status, headers, data = get_json(guide, "/hello", headers={})
    assert (status, data) == (401, {"error": "unauthorized"})
    assert headers["access-control-allow-origin"] == "*"


def test_echo(guide):
    body = json.dumps({"a": [1, "é"]})
    status, _, data = get_json(
        guide,
        "/echo",
        method="POST",
        body=body,
        headers=dict(AUTH, **{"Content-Type": "application/json"}),
    )
    assert (status, data) == (200, {"a": [1, "é"]})


def test_path_parameters(guide):
    assert get_json(guide, "/users/42")[2] == {"user_id": 42}
    assert get_json(guide, "/files/a/b/c.txt")[2] == {"path": "a/b/c.txt"}


def test_int_converter_mismatch_is_custom_404(guide):
    status, _, data = get_json(guide, "/users/abc")
    assert (status, data) == (404, {"error": "not found"})


def test_multi_method_route(guide):
    assert get_json(guide, "/items")[2] == {"items": []}
    status, _, data = get_json(guide, "/items", method="POST", body='{"n": 1}')
    assert (status, data) == (201, {"created": {"n": 1}})


def test_query_and_headers(guide):
    status, _, data = get_json(guide, "/search?q=hello%20world&q=2")
    assert data == {"query": "hello world", "auth_present": True}


def test_sync_handler(guide):
    assert get_json(guide, "/sync")[2] == {"sync": True}


def test_sse_stream(guide):
    status, headers, body = guide.request("GET", "/events", headers=AUTH)
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-cache"
    assert headers["transfer-encoding"] == "chunked"
    assert body == b"".join(b"data: event %d\n\n" % i for i in range(5))


def test_static_files(guide):
    status, headers, body = guide.request("GET", "/assets/style.css", headers=AUTH)
    assert (status, body) == (200, b"body { color: red }")
    assert headers["content-type"].startswith("text/css")
    assert headers["access-control-allow-origin"] == "*"
    status, headers, body = guide.request("GET", "/assets/", headers=AUTH)
    assert (status, body) == (200, b"<h1>home</h1>")
    assert headers["content-type"].startswith("text/html")


def test_static_precompressed(guide):
    status, headers, body = guide.request(
        "GET", "/assets/app.js", headers=dict(AUTH, **{"Accept-Encoding": "gzip, deflate"})
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"].startswith("text/javascript")
    assert gzip.decompress(body) == b"console.log('gz')"
    status, headers, body = guide.request("GET", "/assets/app.js", headers=AUTH)
    assert (status, body) == (200, b"console.log('plain')")
    assert "content-encoding" not in headers


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/%2E%2E%2Fsecret.txt",
        "/assets/..%2fsecret.txt",
        "/assets/..%5csecret.txt",
        "/assets/%5c..%5csecret.txt",
        "/assets/style.css%00.txt",
        "/assets//etc/passwd",
        "/assets/%2fetc%2fpasswd",
        "/assets/../public-private/key.txt",
        "/assets/..%2Fpublic-private%2Fkey.txt",
        "/assets/....//secret.txt",
        "/assets/.%2e/secret.txt",
    ],
)
def test_static_never_leaves_its_directory(guide, path):
    raw = guide.raw(
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: t\r\nConnection: close\r\n\r\n"
    )
    status = int(raw.split(b" ", 2)[1])
    assert status in (400, 404), raw
    assert b"do not serve" not in raw and b"sibling secret" not in raw and b"root:" not in raw


def test_file_response(guide):
    status, headers, body = guide.request("GET", "/download", headers=AUTH)
    assert status == 200
    assert headers["content-type"] == "application/pdf"
    assert body == b"%PDF-1.4 " + bytes(range(256)) * 40
    assert int(headers["content-length"]) == len(body)


def test_error_handlers(guide):
    status, _, data = get_json(guide, "/nowhere")
    assert (status, data) == (404, {"error": "not found"})
    status, _, data = get_json(guide, "/value-error")
    assert (status, data) == (400, {"error": "bad value here"})


def test_return_coercion(guide):
    status, headers, body = guide.request("GET", "/dict", headers=AUTH)
    assert (status, json.loads(body)) == (200, {"key": "value"})
    status, headers, body = guide.request("GET", "/text", headers=AUTH)
    assert (status, body, headers["content-type"]) == (200, b"Hello", "text/plain; charset=utf-8")
    status, headers, body = guide.request("GET", "/bytes", headers=AUTH)
    assert (status, body, headers["content-type"]) == (
        200,
        b"\x89PNG...",
        "application/octet-stream",
    )
    status, headers, body = guide.request("GET", "/tuple", headers=AUTH)
    assert (status, json.loads(body)) == (201, {"ok": True})
    status, headers, body = guide.request("GET", "/empty", headers=AUTH)
    assert (status, body) == (204, b"")
    assert "content-length" not in headers


def test_graceful_shutdown_last(guide):
    # Runs last in this module: the server stops and its process ends.
    status, headers, data = get_json(guide, "/shutdown", method="POST")
    assert (status, data) == (200, {"status": "shutting down"})
    assert guide.wait(10) == 0
