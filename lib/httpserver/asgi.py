# The ASGI side of App (CPython only, never imported on a board): lets
# uvicorn, or gunicorn with uvicorn workers, serve an App with the same
# routes, hooks, error handlers, streaming, files and WebSocket handlers.
#
#     uvicorn mymodule:app
#
# Requests become the same Request objects and go through App.dispatch; a
# response is data (status, header fields, a body source), mapped straight
# to ASGI messages: the ASGI server frames them and manages the connection.
import asyncio
import os
import signal

from . import runtime
from .request import Headers, Request
from .response import HTTPException, error_response
from .websocket import MESSAGE_TOO_BIG, WebSocket, WebSocketClosed, WebSocketResponse, run

# The ASGI server frames the message and manages the connection.
_SKIP_HEADERS = ("keep-alive", "transfer-encoding", "content-length", "connection")
_SCHEMES = {"ws": "http", "wss": "https"}


async def serve_asgi(app, scope, receive, send):
    kind = scope["type"]
    if kind == "http":
        await _http(app, scope, receive, send)
    elif kind == "websocket":
        await _websocket(app, scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(app, receive, send)
    else:
        raise RuntimeError("unsupported ASGI scope type %r" % kind)


# Lifespan ---------------------------------------------------------------------


async def _lifespan(app, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Only a server that runs the lifespan protocol owns the process;
            # an in-process test client never gets this far.
            _attach(app)
            if not await _run_hooks(app._startup, "lifespan.startup", send):
                return
        elif message["type"] == "lifespan.shutdown":
            await _run_hooks(app._shutdown, "lifespan.shutdown", send)
            return


async def _run_hooks(hooks, phase, send):
    """Run start-up or shutdown hooks and report to the ASGI server; True if all ran."""
    try:
        for hook in hooks:
            await runtime.call(hook)
    except Exception as exc:
        runtime.log_exception(exc)
        await send({"type": phase + ".failed", "message": repr(exc)})
        return False
    await send({"type": phase + ".complete"})
    return True


class ProcessServer:
    """Stands in for the core's Server under ASGI, for App.shutdown().

    The ASGI server owns the process; shutdown() asks it to stop the way its
    operator would, with SIGTERM: uvicorn then stops accepting, finishes the
    requests in flight and exits. (Under a supervisor with several workers,
    the supervisor decides whether to start another.)
    """

    stopping = False
    connections = ()  # uvicorn owns them: app.connections reads 0 here

    def stop(self):
        if not self.stopping:
            self.stopping = True
            os.kill(os.getpid(), signal.SIGTERM)


def _attach(app):
    if app.server is None:
        app.server = ProcessServer()


# HTTP -------------------------------------------------------------------------


def _request(app, scope, method):
    headers = Headers()
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            # Repeated fields are combined as the core does (RFC 9110 5.3).
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    client = scope.get("client")
    version = scope.get("http_version", "1.1")
    scheme = scope.get("scheme", "http")
    request = Request(
        app,
        method,
        path,
        scope.get("query_string", b"").decode("latin-1"),
        headers,
        b"",
        tuple(client) if client else None,
        "HTTP/" + version,
        _SCHEMES.get(scheme, scheme),
    )
    return request


async def _read_body(app, request, receive):
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > app.max_body_size:
        raise HTTPException(413)
    chunks = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        body = message.get("body", b"")
        if body:
            total += len(body)
            if total > app.max_body_size:
                raise HTTPException(413)
            chunks.append(body)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _http(app, scope, receive, send):
    request = _request(app, scope, scope["method"])
    try:
        request.body = await _read_body(app, request, receive)
    except _Disconnected:
        return
    except HTTPException as exc:
        # The body was not read: answer, and let the connection close.
        response = await app.handle_error(request, exc)
        await _respond(response, request, send, None, True)
        return
    try:
        response = await app.dispatch(request)
    except MemoryError:
        response = error_response(HTTPException(503))
    if response.upgrade:
        # A WebSocket route reached over plain HTTP (the ASGI server runs
        # without WebSocket support, or the request was not an upgrade).
        response = await app.handle_error(
            request, HTTPException(501, "WebSocket is not available on this server")
        )
    await _respond(response, request, send, receive if response.content_length() is None else None)


class _Disconnected(OSError):
    pass


def _start(response, prefix, close=False):
    """The response's start message: status and header fields, no framing."""
    headers = []
    for name, value in response.headers.items():
        if name.lower() in _SKIP_HEADERS:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            item = str(item)
            if "\n" in item or "\r" in item or "\n" in name or "\r" in name:
                raise ValueError("line break in response header " + name)
            headers.append((name.encode("latin-1"), item.encode("latin-1")))
    status = response.status_code
    length = response.content_length()
    if length is not None and status >= 200 and status != 204 and status != 304:
        headers.append((b"Content-Length", b"%d" % length))
    if close:
        headers.append((b"Connection", b"close"))
    return {"type": prefix + ".start", "status": status, "headers": headers}


class _Sink:
    """What Response.produce() sends body blocks to: ASGI body messages.

    A body of known length keeps its latest block back, so that the last
    one goes out with more_body False (one message for most responses); a
    stream goes out block by block as it is produced.
    """

    def __init__(self, send, kind, hold):
        self._send = send
        self._kind = kind
        self._held = b"" if hold else None
        self.disconnected = False

    async def send(self, block):
        if self.disconnected:
            raise _Disconnected()
        if self._held is None:
            await self._body(bytes(block), True)
            return
        if self._held:
            await self._body(self._held, True)
        self._held = bytes(block)

    async def finish(self):
        await self._body(self._held or b"", False)

    async def _body(self, data, more):
        await self._send({"type": self._kind, "body": data, "more_body": more})


async def _respond(response, request, send, receive, close=False, prefix="http.response"):
    """Send response through ASGI; receive is watched for a disconnect while streaming."""
    try:
        start = _start(response, prefix, close)
    except Exception as exc:
        runtime.log_exception(exc)
        response = error_response(HTTPException(500))
        start = _start(response, prefix, close)
    await send(start)
    sink = _Sink(send, prefix + ".body", response.content_length() is not None)
    if request.method == "HEAD":
        await response.close()
    elif receive is None:
        await response.produce(sink)
    elif not await _until_disconnect(response.produce(sink), receive, sink):
        return
    await sink.finish()


async def _until_disconnect(writing, receive, sender):
    """Run writing; stop it when the client goes away. True when it completed."""
    writer = asyncio.ensure_future(writing)

    async def watch():
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait((writer, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not writer.done():
        sender.disconnected = True
        writer.cancel()
        try:
            await writer
        except BaseException:
            pass
        return False
    try:
        writer.result()
    except _Disconnected:
        return False
    return True


# WebSocket --------------------------------------------------------------------


async def _websocket(app, scope, receive, send):
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    request = _request(app, scope, "GET")
    try:
        response = await app.dispatch(request)
    except MemoryError:
        response = error_response(HTTPException(503))
    if not isinstance(response, WebSocketResponse) or response.status_code != 101:
        # Refused (a hook, a 404, a failed handshake): answer over HTTP when
        # the server can, else close, which it answers with 403.
        if "websocket.http.response" in scope.get("extensions", {}):
            await _respond(response, request, send, None, False, "websocket.http.response")
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    headers = []
    for name, value in response.headers.items():
        lower = name.lower()
        if lower in ("upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol"):
            continue
        headers.append((name.encode(), str(value).encode()))
    await send(
        {"type": "websocket.accept", "subprotocol": response.subprotocol, "headers": headers}
    )
    ws = ASGIWebSocket(request, receive, send, response.max_message_size, response.subprotocol)
    await run(ws, response.handler, response.params)


class ASGIWebSocket(WebSocket):
    """The WebSocket API over ASGI messages; the ASGI server speaks the protocol."""

    def __init__(self, request, receive, send, max_message_size, subprotocol=None):
        super().__init__(request, None, max_message_size, subprotocol)
        self._asgi_receive = receive
        self._asgi_send = send

    async def receive(self):
        if self._close_received or self._broken:
            raise WebSocketClosed(self.close_code, self.close_reason)
        while True:
            message = await self._asgi_receive()
            kind = message["type"]
            if kind == "websocket.receive":
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                    size = len(data)
                else:
                    size = (
                        len(data) if len(data) * 4 <= self.max_message_size else len(data.encode())
                    )
                if size > self.max_message_size:
                    self._broken = True
                    await self._send_close(MESSAGE_TOO_BIG, "message too big")
                    raise WebSocketClosed(MESSAGE_TOO_BIG, "message too big")
                return data
            if kind == "websocket.disconnect":
                self._close_received = True
                self._set_closed(message.get("code", 1005), message.get("reason") or "")
                raise WebSocketClosed(self.close_code, self.close_reason)

    async def send(self, data):
        if self._close_sent or self._close_received:
            raise WebSocketClosed(self.close_code or 1005, self.close_reason)
        if isinstance(data, str):
            message = {"type": "websocket.send", "text": data}
        else:
            message = {"type": "websocket.send", "bytes": bytes(data)}
        try:
            await self._asgi_send(message)
        except OSError:
            self._set_closed(1006, "connection lost")
            raise WebSocketClosed(1006, "connection lost")

    async def ping(self, data=b""):
        pass  # the ASGI server keeps the connection alive with its own pings

    async def _send_close(self, code, reason=""):
        self._close_sent = True
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        if self._close_received:
            return
        try:
            await self._asgi_send({"type": "websocket.close", "code": code, "reason": reason})
        except (OSError, RuntimeError):
            pass

    async def _finish(self):
        if not self._close_sent and not self._close_received:
            await self._send_close(1000)
