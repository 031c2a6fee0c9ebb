# The ASGI side of App (CPython only, never imported on a board): lets
# uvicorn, or gunicorn with uvicorn workers, serve an App with the same
# routes, hooks, error handlers, streaming, files and WebSocket handlers.
#
#     uvicorn mymodule:app
#
# Requests become the same Request objects and go through App.dispatch; the
# response is written by its own write() method into a stand-in writer that
# turns the bytes into ASGI messages, so every Response class works as is.
import asyncio
import os
import signal

from . import runtime
from .errors import HTTPException
from .request import Headers, Request
from .response import error_response
from .websocket import MESSAGE_TOO_BIG, WebSocket, WebSocketClosed, WebSocketResponse, run

# The ASGI server frames the message and manages the connection.
_SKIP_HEADERS = (b"keep-alive", b"transfer-encoding")
_SCHEMES = {"ws": "http", "wss": "https"}
# A fixed-length body is sent in one message up to this size.
_HOLD = 65536


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
    request.connection = None  # no socket to take over: the ASGI server owns it
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
        response.headers["Connection"] = "close"
        await _respond(response, request, send, None)
        return
    try:
        response = await app.dispatch(request)
    except MemoryError:
        response = error_response(HTTPException(503))
    if response.upgraded:
        # A WebSocket route reached over plain HTTP (the ASGI server runs
        # without WebSocket support, or the request was not an upgrade).
        response = await app.handle_error(
            request, HTTPException(501, "WebSocket is not available on this server")
        )
    await _respond(response, request, send, receive if response.chunked else None)


class _Disconnected(OSError):
    pass


class _Sender:
    """Looks like an asyncio StreamWriter to Response.write().

    The status line and header fields it is given become the start message,
    the rest body messages. A fixed-length body is held back (up to _HOLD
    bytes, so a large file still goes out block by block) and goes out with
    the final message; a streamed one goes out at each drain().
    """

    def __init__(self, send, prefix="http.response", hold=True):
        self._send = send
        self._start = prefix + ".start"
        self._body = prefix + ".body"
        self._hold = hold
        self._head = b""
        self._started = None  # the start message, once the head is complete
        self._sent_start = False
        self._pending = []
        self._pending_size = 0
        self.disconnected = False

    def write(self, data):
        if self._started is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            rest = self._head[end + 4 :]
            self._started = self._parse(self._head[:end])
            self._head = b""
            if rest:
                self._pending.append(rest)
                self._pending_size += len(rest)
        elif data:
            self._pending.append(bytes(data))
            self._pending_size += len(data)

    def _parse(self, head):
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lower = name.lower()
            value = value.strip()
            if lower in _SKIP_HEADERS or (lower == b"connection" and value.lower() != b"close"):
                continue
            headers.append((name, value))
        return {"type": self._start, "status": status, "headers": headers}

    async def drain(self):
        if self.disconnected:
            raise _Disconnected()
        if self._started is None:
            return
        if not self._sent_start:
            self._sent_start = True
            await self._send(self._started)
        if self._pending and (not self._hold or self._pending_size >= _HOLD):
            body = b"".join(self._pending)
            self._pending = []
            self._pending_size = 0
            await self._send({"type": self._body, "body": body, "more_body": True})

    async def finish(self):
        if self._started is None:
            raise RuntimeError("response wrote no complete head")
        if not self._sent_start:
            self._sent_start = True
            await self._send(self._started)
        body = b"".join(self._pending)
        self._pending = []
        self._pending_size = 0
        await self._send({"type": self._body, "body": body, "more_body": False})

    def close(self):
        pass

    async def wait_closed(self):
        pass

    def get_extra_info(self, name, default=None):
        return default


async def _respond(response, request, send, receive, prefix="http.response"):
    """Send response through ASGI; receive is watched for a disconnect while streaming."""
    sender = _Sender(send, prefix, hold=not response.chunked)
    send_body = request.method != "HEAD"
    # HTTP/1.0 framing: the body is written raw, never chunked; the ASGI server
    # chunks it for HTTP/1.1 clients itself.
    writing = response.write(sender, send_body, "", "HTTP/1.0")
    if receive is None:
        await writing
    else:
        if not await _until_disconnect(writing, receive, sender):
            return
    await sender.finish()


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
            sender = _Sender(send, "websocket.http.response")
            await response.write(sender, True, "", "HTTP/1.0")
            await sender.finish()
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
