"""picohttp on top of httpserver: the picohttp API, so that its programs run unchanged.

    from picohttp import *

    def requestHandler(request, response):
        response.data = "Hello world!"

    httpServer = HttpServer(8080, requestHandler)

Every request, whatever its method and path, goes to the handler as
handler(request, response, *args); the response is sent with its
Content-Length and the connection is closed, as picohttp does. Unlike the
original, a malformed request is answered 400 by the server and never reaches
the handler, and the Content-Length sent counts bytes, not characters.

threads=True: on CPython each sync handler runs in a worker thread, so
requests are handled concurrently. MicroPython boards have no practical
threads: there every connection is its own asyncio task (reading, writing and
async handlers overlap) but a sync handler runs to completion on the event
loop, one at a time. threads=False handles one request at a time everywhere.
"""

from httpserver import App as _App
from httpserver import Response as _Response
from httpserver import runtime as _runtime
from httpserver.protocol import parse_query as _parse_query

__all__ = ["HttpServer", "HttpRequest", "HttpResponse"]

_GENERATOR = type((lambda: (yield))())


class HttpRequest:
    """The parsed request: method, path (a list of segments), query (a dict),
    protocol, headers (names looked up case-insensitively) and data (the body
    as str, bytes when it is not UTF-8, None when the request has none)."""

    def __init__(self, method="", path=None, query=None, protocol="", headers=None, data=None):
        self.method = method
        self.path = path if path is not None else [""]
        self.query = query if query is not None else {}
        self.protocol = protocol
        self.headers = headers if headers is not None else {}
        self.data = data


class HttpResponse:
    """What the handler fills in: protocol, status, headers and data."""

    def __init__(self, protocol="HTTP/1.0", status=200, headers=None, data=None):
        self.protocol = protocol
        self.status = status
        self.headers = headers if headers is not None else {}
        self.data = data


class _Reply(_Response):
    """An httpserver Response whose status line carries HttpResponse.protocol."""

    def __init__(self, body, status, headers, content_type, protocol):
        _Response.__init__(self, body, status, headers, content_type)
        self.version = protocol  # the status line's, as the handler set it


def _valid_protocol(protocol):
    return (
        isinstance(protocol, str)
        and len(protocol) == 8
        and protocol[:5] == "HTTP/"
        and protocol[5] in "0123456789"
        and protocol[6] == "."
        and protocol[7] in "0123456789"
    )


def _segments(path):
    # As picohttp: "/" -> [""], "/a/b/" -> ["a", "b"].
    return path.strip("/").split("/")


def _query(query_string):
    query = {}
    for name, values in _parse_query(query_string).items():
        query[name] = values[-1]
    return query


def _build_request(request):
    headers = request.headers
    data = None
    if request.body or "content-length" in headers or "transfer-encoding" in headers:
        data = request.body
        try:
            data = data.decode()
        except UnicodeError:
            pass
    return HttpRequest(
        request.method,
        _segments(request.path),
        _query(request.query_string),
        request.http_version,
        headers,
        data,
    )


def _build_reply(response):
    protocol = response.protocol or "HTTP/1.0"
    if not _valid_protocol(protocol):
        raise ValueError("invalid response protocol %r" % (protocol,))
    status = 200 if response.status is None else int(response.status)
    if not 100 <= status <= 999:
        raise ValueError("invalid response status %r" % (response.status,))
    data = response.data
    content_type = None
    if data is None:
        body = b""
    elif isinstance(data, str):
        body = data.encode()
        content_type = "text/plain; charset=utf-8"
    elif isinstance(data, (bytes, bytearray, memoryview)):
        body = bytes(data)
        content_type = "application/octet-stream"
    else:
        raise TypeError("response.data must be str or bytes, not %s" % type(data).__name__)
    headers = {}
    for name, value in (response.headers or {}).items():
        name = str(name)
        lower = name.lower()
        if lower == "connection":
            continue  # the server always closes, and says so
        if lower == "content-type":
            content_type = None
        value = str(value)
        if "\n" in name or "\r" in name or "\n" in value or "\r" in value:
            # Caught here it is a 500; in the server it would cut the connection.
            raise ValueError("line break in response header %r" % name)
        headers[name] = value
    return _Reply(body, status, headers, content_type if body else None, protocol)


def _failure(exc):
    _runtime.log_exception(exc)
    # As picohttp: 500 with the exception's text.
    return _Reply((str(exc) + "\n").encode(), 500, {}, "text/plain; charset=utf-8", "HTTP/1.0")


class HttpServer:
    """HttpServer(port, handler, args=(), threads=True, start=True, block=True)."""

    def __init__(self, port, handler, args=(), threads=True, start=True, block=True):
        self.port = port
        self.handler = handler
        self.args = tuple(args)
        self.threads = threads
        self.block = block
        self.app = None
        self._thread = None
        self._lock = None
        if start:
            self.start()

    # The app ------------------------------------------------------------------

    def _make_app(self):
        app = _App()
        # Every method and every path reaches the handler: a before_request
        # hook answers before routing would.
        app.before_request(self._respond)
        return app

    async def _respond(self, request):
        try:
            if self._lock is None:
                return await self._handle(request)
            await self._lock.acquire()
            try:
                return await self._handle(request)
            finally:
                self._lock.release()
        finally:
            # As picohttp: one request per connection. The server decides
            # keep-alive from this header once the response is ready.
            request.headers["connection"] = "close"

    async def _handle(self, request):
        try:
            picoreq = _build_request(request)
            picoresp = HttpResponse("HTTP/1.0", 200, {}, None)
            await self._call(picoreq, picoresp)
            return _build_reply(picoresp)
        except MemoryError:
            raise
        except Exception as exc:
            return _failure(exc)

    async def _call(self, request, response):
        handler = self.handler
        args = (request, response) + self.args
        if self.threads:
            # A sync handler in a worker thread where the runtime has them.
            await _runtime.call(handler, *args)
            return
        result = handler(*args)
        if isinstance(result, _GENERATOR) or hasattr(result, "__await__"):
            await result  # an async handler

    # Serving --------------------------------------------------------------------

    def start(self):
        """Start serving; blocks unless the server was made with block=False."""
        if self.app is not None:
            raise RuntimeError("server already started")
        import asyncio

        self.app = self._make_app()
        if not self.threads:
            self._lock = asyncio.Lock()
        if self.block:
            self.app.run(host="0.0.0.0", port=self.port)
            return
        if not _runtime.THREADS:
            # No threads to hide a loop in: the server becomes a task of the
            # program's asyncio loop, serving while the program runs asyncio.
            asyncio.create_task(self._serve())
            return
        self._start_thread()

    async def _serve(self):
        import asyncio

        app = self.app
        task = asyncio.create_task(app.start_server(host="0.0.0.0", port=self.port))
        self.port = await app.listening()
        await task

    def _start_thread(self):
        import threading
        import time

        failure = []

        def serve():
            import asyncio

            try:
                asyncio.run(self._serve())
            except BaseException as exc:  # reported to start()
                failure.append(exc)

        thread = threading.Thread(target=serve, name="picohttp", daemon=True)
        thread.start()
        self._thread = thread
        deadline = time.monotonic() + 10
        while self.app.port is None and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if failure:
            raise failure[0]
        if self.app.port is None:
            raise RuntimeError("picohttp server did not start")
        self.port = self.app.port

    def stop(self):
        """Stop serving (an addition to picohttp's API); waits for a server thread."""
        if self.app is not None:
            self.app.shutdown()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
