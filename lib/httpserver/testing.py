"""An in-process test client: requests go through the app without a socket.

    from httpserver.testing import TestClient

    client = TestClient(app)
    response = client.get("/api/status")
    assert response.status_code == 200 and response.json()["ok"]

The request runs the app's own dispatch (hooks, handler, error handlers),
the response head is encoded as the server encodes it, and a streamed body
is read to its end. Cookies the app sets are kept and sent back, like a
browser would. Works on CPython and MicroPython (sync methods, or the async
`await client.request(...)` from a running event loop).
"""

import asyncio
import json

from . import runtime
from .protocol import NO_BODY, encode_head, frame_response, split_target
from .request import Headers, Request


class _Collector:
    """Where Response.produce() puts the body: kept whole, unframed."""

    def __init__(self):
        self.pieces = []

    async def send(self, block):
        self.pieces.append(bytes(block))


async def _body(response, method):
    """(head, body): the encoded head, as the server frames it for an HTTP/1.1
    client, and the whole body (a stream read to its end, chunking undone)."""
    status = response.status_code
    fields, mode, _ = frame_response(
        method,
        "HTTP/1.1",
        None,
        status,
        response.content_length(),
        response.upgrade and status == 101,
    )
    head = encode_head(status, response.headers, fields, runtime.http_date(), response.version)
    sink = _Collector()
    if mode == NO_BODY:
        await response.close()
    else:
        await response.produce(sink)
    return head, b"".join(sink.pieces)


class TestResponse:
    """What the app answered: status_code, headers, text, json() and cookies."""

    def __init__(self, head, body):
        lines = head.decode().split("\r\n")
        self.status_code = int(lines[0].split(" ", 2)[1])
        self.header_list = []  # (name, value) in order, one per field line
        fields = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                name, value = name.strip(), value.strip()
                self.header_list.append((name, value))
                key = name.lower()
                fields[key] = fields[key] + ", " + value if key in fields else value
        self.headers = Headers(fields)  # lowercase names; repeated fields joined by ", "
        self.body = body

    @property
    def text(self):
        return self.body.decode()

    def json(self):
        return json.loads(self.body)

    @property
    def cookies(self):
        """The cookies set by this response: name -> value ("" when deleted)."""

        found = {}
        for name, value in self.header_list:
            if name.lower() == "set-cookie":
                cookie, _, cookie_value = value.split(";", 1)[0].partition("=")
                found[cookie.strip()] = cookie_value.strip()
        return found


class TestClient:
    """Sends requests to app in process; keeps cookies between requests."""

    __test__ = False  # not a pytest test class

    def __init__(self, app, headers=None, client_addr=("127.0.0.1", 50000)):
        self.app = app
        self.headers = dict(headers or {})
        self.client_addr = client_addr
        self.cookies = {}

    async def request(self, method, url, headers=None, body=None, json=None, data=None):
        """The response to one request (async: await it from a running loop)."""
        fields = Headers()
        for source in (self.headers, headers or {}):
            for name, value in source.items():
                fields[name.lower()] = value
        if json is not None:
            body = _dumps(json).encode()
            fields.setdefault("content-type", "application/json")
        elif data is not None:
            if isinstance(data, dict):
                from .forms import urlencode

                data = urlencode(data.items())
                fields.setdefault("content-type", "application/x-www-form-urlencoded")
            body = data
        if isinstance(body, str):
            body = body.encode()
        body = body or b""
        if body or method in ("POST", "PUT", "PATCH"):
            fields["content-length"] = str(len(body))
        if self.cookies and "cookie" not in fields:
            fields["cookie"] = "; ".join(k + "=" + v for k, v in self.cookies.items())
        app = self.app
        request = None
        try:
            path, query = split_target(url)
            request = Request(app, method, path, query, fields, body, self.client_addr)
            if len(body) > app.max_body_size:
                from .response import HTTPException

                raise HTTPException(413)
            response = await app.dispatch(request)
        except MemoryError:
            raise
        except Exception as exc:
            # Before dispatch (a bad target, a body too large), as the server does.
            response = await app.handle_error(request, exc)
        result = TestResponse(*(await _body(response, method)))
        self._keep_cookies(result)
        return result

    def _keep_cookies(self, response):
        for name, value in response.header_list:
            if name.lower() != "set-cookie":
                continue
            pair = value.split(";", 1)[0]
            cookie, _, cookie_value = pair.partition("=")
            cookie = cookie.strip()
            if not cookie_value or "max-age=0" in value.lower():
                self.cookies.pop(cookie, None)
            else:
                self.cookies[cookie] = cookie_value.strip()

    def _run(self, method, url, **kwargs):
        return asyncio.run(self.request(method, url, **kwargs))

    def get(self, url, **kwargs):
        return self._run("GET", url, **kwargs)

    def head(self, url, **kwargs):
        return self._run("HEAD", url, **kwargs)

    def post(self, url, **kwargs):
        return self._run("POST", url, **kwargs)

    def put(self, url, **kwargs):
        return self._run("PUT", url, **kwargs)

    def patch(self, url, **kwargs):
        return self._run("PATCH", url, **kwargs)

    def delete(self, url, **kwargs):
        return self._run("DELETE", url, **kwargs)

    def options(self, url, **kwargs):
        return self._run("OPTIONS", url, **kwargs)


def _dumps(data):
    return json.dumps(data)
