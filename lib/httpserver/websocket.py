# WebSocket (RFC 6455) on a connection that the HTTP server hands over: the
# opening handshake, frames, fragmented messages, ping/pong and the closing
# handshake. Loaded only by apps that use it; the same code runs on
# MicroPython and CPython.
#
#     from httpserver.websocket import websocket
#
#     @websocket(app, "/ws")
#     async def echo(request, ws):
#         while True:
#             await ws.send(await ws.receive())   # ends when the client closes
import asyncio

# The server's writer for these bodies loads with them, at start-up, rather
# than at the first answer on a crowded heap.
import httpserver.bodies  # noqa: F401

from . import runtime
from .response import HTTPException, Response

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION = 0
TEXT = 1
BINARY = 2
CLOSE = 8
PING = 9
PONG = 10

# Close codes (RFC 6455 7.4.1).
NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
NO_STATUS = 1005
ABNORMAL = 1006
INVALID_DATA = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011

# A board has tens of kilobytes of heap; a message is held whole in RAM.
DEFAULT_MAX_MESSAGE_SIZE = runtime.MAX_MESSAGE_SIZE
# How long to wait for the client's half of the closing handshake.
CLOSE_TIMEOUT = 2.0
# Unmasking and skipping work in pieces this big, to bound the heap used.
_PIECE = runtime.FILE_BLOCK_SIZE


class WebSocketClosed(Exception):
    """Raised by receive() and send() once the connection is closed.

    code is the close code (1000 normal, 1001 going away, 1006 when the
    connection dropped without a close frame, ...) and reason its text.
    """

    def __init__(self, code=NO_STATUS, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class _Fail(Exception):
    # The client broke the protocol: close with this code.
    def __init__(self, code, reason):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def _valid_close_code(code):
    # RFC 6455 7.4: codes a peer may send in a close frame.
    return (1000 <= code <= 1003 or 1007 <= code <= 1014) or 3000 <= code <= 4999


def _text(data):
    """Decode UTF-8, closing with 1007 when it is invalid."""
    try:
        text = data.decode()
    except UnicodeError:
        raise _Fail(INVALID_DATA, "invalid UTF-8")
    # Checked on both runtimes: MicroPython's decoder is lenient.
    if data and max(data) >= 0xC0:
        from .utf8 import is_strict_utf8

        if not is_strict_utf8(data):
            raise _Fail(INVALID_DATA, "invalid UTF-8")
    return text


def _unmask(data, mask):
    """XOR data with the 4-byte mask, through int (C speed on both runtimes)."""
    size = len(data)
    if not size:
        return b""
    if size <= _PIECE:
        key = (mask * (size // 4 + 1))[:size]
        return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    out = bytearray(data)
    _unmask_into(memoryview(out), mask)
    return out


def _unmask_into(view, mask):
    # In place, a piece at a time, so that the heap only ever holds a few
    # small temporaries besides the payload itself.
    size = len(view)
    whole = int.from_bytes(mask * (_PIECE // 4), "big")
    start = 0
    while start < size:
        count = min(_PIECE, size - start)
        key = whole if count == _PIECE else whole >> ((_PIECE - count) * 8)
        view[start : start + count] = (
            int.from_bytes(view[start : start + count], "big") ^ key
        ).to_bytes(count, "big")
        start += count


def frame(opcode, payload, fin=True):
    """One unmasked frame, as a server sends it."""
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = bytes((first, size))
    elif size < 65536:
        head = bytes((first, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, 127)) + size.to_bytes(8, "big")
    return head, payload


def close_payload(code, reason=""):
    if code == NO_STATUS or code is None:
        return b""
    return code.to_bytes(2, "big") + reason.encode()[:123]


class WebSocket:
    """One WebSocket connection, passed to the handler as its second argument.

    receive() returns the next message (str for text, bytes for binary),
    answering pings and reassembling fragmented messages on the way; it
    raises WebSocketClosed when the connection ends. `async for message in ws`
    does the same and stops at the close.
    """

    _pinged = False  # the keep-alive's last ping is not answered yet

    def __init__(
        self, request, connection=None, max_message_size=DEFAULT_MAX_MESSAGE_SIZE, subprotocol=None
    ):
        self.request = request
        self.subprotocol = subprotocol
        self.max_message_size = max_message_size
        self.close_code = None  # set once closed
        self.close_reason = ""
        self._conn = connection
        self._close_sent = False
        self._close_received = False
        self._broken = False  # failed or dropped: nothing more can be read
        self._skip = 0  # bytes of an oversized frame still to discard

    @property
    def closed(self):
        return self.close_code is not None

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except WebSocketClosed:
            raise StopAsyncIteration

    # Receiving -------------------------------------------------------------

    async def receive(self):
        """The next message: str (text) or bytes (binary)."""
        if self._close_received or self._broken:
            raise WebSocketClosed(self.close_code, self.close_reason)
        try:
            return await self._message()
        except _Fail as fail:
            await self._fail(fail.code, fail.reason)
        except (EOFError, OSError):
            self._set_closed(ABNORMAL, "connection lost")
        except asyncio.CancelledError:
            if not self._broken:
                raise
            # The keep-alive gave up on the client (see keepalive()): a
            # handler waiting for a message learns it as a close.
        raise WebSocketClosed(self.close_code, self.close_reason)

    async def _message(self):
        kind = None
        parts = None  # a fragmented message so far, in one buffer
        size = 0
        while True:
            fin, opcode, length, mask = await self._header(size)
            if opcode >= CLOSE:
                await self._control(opcode, await self._payload(length, mask) if length else b"")
                continue
            if parts is None and not fin:
                # Room for the whole message at once when the limit is a
                # board's (a few KiB): growing a buffer piece by piece needs
                # the old and the new block together. Larger limits start
                # smaller and double.
                limit = self.max_message_size
                parts = bytearray(limit if limit <= 16384 else min(limit, max(4 * length, 1024)))
            if parts is not None:
                if size + length > len(parts):
                    grown = max(size + length, min(2 * len(parts), self.max_message_size))
                    parts.extend(bytes(grown - len(parts)))
                view = memoryview(parts)[size : size + length]
                await self._conn.read_into(view)
                _unmask_into(view, mask)
                payload = None
            else:
                payload = await self._payload(length, mask) if length else b""
            if opcode == CONTINUATION:
                if kind is None:
                    raise _Fail(PROTOCOL_ERROR, "continuation frame without a message")
            elif kind is not None:
                raise _Fail(PROTOCOL_ERROR, "new message inside a fragmented one")
            else:
                kind = opcode
            size += length
            if not fin:
                continue
            if parts is not None:
                payload = parts if size == len(parts) else parts[:size]
            if kind == TEXT:
                return _text(payload)
            return bytes(payload)

    async def _header(self, size):
        """(fin, opcode, payload length, mask) of the client's next frame."""
        read = self._conn.read_exact
        head = await read(2)
        first = head[0]
        second = head[1]
        opcode = first & 0x0F
        fin = first & 0x80
        if first & 0x70:
            raise _Fail(PROTOCOL_ERROR, "reserved bits set")
        if not second & 0x80:
            raise _Fail(PROTOCOL_ERROR, "frame from the client not masked")
        length = second & 0x7F
        if opcode >= CLOSE:
            if opcode > PONG:
                raise _Fail(PROTOCOL_ERROR, "unknown opcode")
            if not fin or length > 125:
                raise _Fail(PROTOCOL_ERROR, "fragmented or long control frame")
        elif opcode > BINARY:
            raise _Fail(PROTOCOL_ERROR, "unknown opcode")
        if length == 126:
            length = int.from_bytes(await read(2), "big")
        elif length == 127:
            extended = await read(8)
            if extended[0] & 0x80:
                raise _Fail(PROTOCOL_ERROR, "invalid payload length")
            length = int.from_bytes(extended, "big")
        if opcode < CLOSE and size + length > self.max_message_size:
            self._skip = 4 + length
            raise _Fail(MESSAGE_TOO_BIG, "message too big")
        return fin, opcode, length, await read(4)

    async def _payload(self, length, mask):
        conn = self._conn
        if length <= 256:
            return _unmask(await conn.read_exact(length), mask)
        # Read into one buffer as it arrives and unmasked in place: joining
        # pieces, or copying each read, would leave the small heap of a
        # board too fragmented for the next message.
        data = bytearray(length)
        view = memoryview(data)
        await conn.read_into(view)
        _unmask_into(view, mask)
        return data

    async def _control(self, opcode, payload):
        if opcode == PING:
            if not self._close_sent:
                await self._send_frame(PONG, payload)
        elif opcode == CLOSE:
            if len(payload) == 1:
                raise _Fail(PROTOCOL_ERROR, "close frame with a one-byte payload")
            code = NO_STATUS
            reason = ""
            if payload:
                code = int.from_bytes(payload[:2], "big")
                if not _valid_close_code(code):
                    raise _Fail(PROTOCOL_ERROR, "invalid close code")
                reason = _text(payload[2:])
            self._close_received = True
            if not self._close_sent:
                # Echo the client's code (RFC 6455 5.5.1).
                await self._send_close(code)
            self._set_closed(code, reason)
            raise WebSocketClosed(code, reason)
        else:
            self._pinged = False  # a pong: the client is there

    # Sending ---------------------------------------------------------------

    async def send(self, data):
        """Send a message: str as text, bytes-like as binary."""
        if self._close_sent:
            raise WebSocketClosed(self.close_code or NO_STATUS, self.close_reason)
        if isinstance(data, str):
            await self._send_frame(TEXT, data.encode())
        else:
            await self._send_frame(BINARY, data)

    async def ping(self, data=b""):
        """Send a ping; the pong is consumed by receive()."""
        if isinstance(data, str):
            data = data.encode()
        if len(data) > 125:
            raise ValueError("a ping carries at most 125 bytes")
        await self._send_frame(PING, data)

    def keepalive(self):
        """One beat of the keep-alive: ping the client, or, when it has not
        answered the previous ping, close the connection (1006, "no answer to
        ping") and cancel the connection's task, which runs the handler.
        Whether the client is still there.

        The pong counts only while something is reading (receive()).
        """
        from .wsping import beat  # loaded by the first keep-alive

        return beat(self)

    async def close(self, code=NORMAL, reason=""):
        """Start the closing handshake; the server finishes it after the handler."""
        if not self._close_sent:
            await self._send_close(code, reason)

    async def _send_frame(self, opcode, payload):
        head, payload = frame(opcode, payload)
        writer = self._conn
        if len(payload) <= 1024:
            writer.write(head + payload)
        else:
            writer.write(head)
            writer.write(payload)
        # Two tasks may send (a hub's writer, and its reader answering a
        # ping): only one waits on the socket, and its drain takes both.
        if writer.write_deadline is None:
            await writer.drain()

    async def _send_close(self, code, reason=""):
        self._close_sent = True
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        try:
            await self._send_frame(CLOSE, close_payload(code, reason))
        except (OSError, EOFError):
            self._set_closed(ABNORMAL, "connection lost")

    def _set_closed(self, code, reason):
        if code == ABNORMAL:
            self._broken = True
        if code == ABNORMAL or self.close_code is None:
            self.close_code = code
            self.close_reason = reason

    async def _fail(self, code, reason):
        # RFC 6455 7.1.7: fail the connection with a close frame.
        self._broken = True
        if not self._close_sent:
            await self._send_close(code, reason)
        self._set_closed(code, reason)

    # End of the connection --------------------------------------------------

    async def _finish(self):
        """Complete the closing handshake after the handler has returned."""
        if self._close_received or self.close_code == ABNORMAL:
            return
        if not self._close_sent:
            await self._send_close(NORMAL)
        if self.close_code == ABNORMAL:
            return  # the client is gone
        try:
            await asyncio.wait_for(self._await_close(), CLOSE_TIMEOUT)
        except Exception:
            pass  # timed out, broke the protocol or went away: just close

    async def _await_close(self):
        # Discard what the client still sends until its close frame, so that
        # closing the socket does not reset it before our close frame is read.
        read = self._conn.read_exact
        while True:
            if self._skip > 65536:
                return  # not worth reading through: just close
            while self._skip:
                count = min(self._skip, _PIECE)
                await read(count)
                self._skip -= count
            head = await read(2)
            length = head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await read(2), "big")
            elif length == 127:
                length = int.from_bytes(await read(8), "big")
            if head[0] & 0x0F == CLOSE:
                await read(4 + length)
                self._close_received = True
                return
            self._skip = (4 if head[1] & 0x80 else 0) + length

    async def _abort(self, code):
        # Best effort on cancellation (server shutdown, a stalled client at
        # its write deadline): tell the client, without waiting for it.
        if not self._close_sent:
            try:
                if self._conn is None:  # over ASGI: the server's own close
                    await self._send_close(code)
                    return
                self._close_sent = True
                head, payload = frame(CLOSE, close_payload(code))
                self._conn.write(head + payload)
            except BaseException:
                pass


async def run(ws, handler, params, ping_interval=None):
    """Run a WebSocket handler to its end, closing the connection properly."""
    pinger = None
    if ping_interval:
        from .wsping import ping_every  # loaded with the first such route

        pinger = asyncio.create_task(ping_every(ws, ping_interval))
    try:
        await handler(ws.request, ws, **params)
    except WebSocketClosed:
        pass
    except asyncio.CancelledError:
        if not ws._broken:
            await ws._abort(GOING_AWAY)
            raise
        # The keep-alive ended it: the client is gone.
    except Exception as exc:
        runtime.log_exception(exc)
        if not ws._close_sent:
            try:
                await ws._send_close(INTERNAL_ERROR)
            except Exception:
                pass
    finally:
        if pinger is not None:
            pinger.cancel()
    await ws._finish()


class WebSocketResponse(Response):
    """101 Switching Protocols, then the handler owns the connection."""

    upgrade = True
    ping_interval = None  # seconds between the server's pings (None: no pings)

    def __init__(self, request, handler, params, accept, max_message_size, subprotocol=None):
        # Connection: Upgrade comes with the framing (protocol.frame_response).
        headers = {"Upgrade": "websocket", "Sec-WebSocket-Accept": accept}
        if subprotocol:
            headers["Sec-WebSocket-Protocol"] = subprotocol
        Response.__init__(self, b"", 101, headers)
        self.request = request
        self.handler = handler
        self.params = params
        self.max_message_size = max_message_size
        self.subprotocol = subprotocol

    async def take_over(self, connection):
        """Run the handler on the connection, once the 101 has gone out."""
        ws = WebSocket(self.request, connection, self.max_message_size, self.subprotocol)
        await run(ws, self.handler, self.params, self.ping_interval)


def _has_token(value, token):
    for part in value.split(","):
        if part.strip().lower() == token:
            return True
    return False


def accept_key(key):
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key."""
    import binascii
    import hashlib

    digest = hashlib.sha1(key.encode() + _GUID).digest()
    return binascii.b2a_base64(digest).strip().decode()


def handshake(request, subprotocols=None):
    """Check an upgrade request; returns (accept value, chosen subprotocol).

    Raises HTTPException (400, or 426 Upgrade Required) when it is not a
    valid WebSocket opening handshake (RFC 6455 4.2.1).
    """
    headers = request.headers
    if request.method != "GET" or request.http_version != "HTTP/1.1":
        raise HTTPException(400, "a WebSocket handshake is a GET over HTTP/1.1")
    if not _has_token(headers.get("upgrade", ""), "websocket") or not _has_token(
        headers.get("connection", ""), "upgrade"
    ):
        raise HTTPException(426, "this URL takes WebSocket connections", {"Upgrade": "websocket"})
    if headers.get("sec-websocket-version", "").strip() != "13":
        raise HTTPException(426, "unsupported WebSocket version", {"Sec-WebSocket-Version": "13"})
    key = headers.get("sec-websocket-key", "").strip()
    import binascii

    try:
        valid = len(key) == 24 and len(binascii.a2b_base64(key)) == 16
    except ValueError:
        valid = False
    if not valid:
        raise HTTPException(400, "invalid Sec-WebSocket-Key")
    chosen = None
    if subprotocols:
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        for name in subprotocols:
            if name in offered:
                chosen = name
                break
    return accept_key(key), chosen


def websocket(app, url_pattern, max_message_size=None, subprotocols=None, ping_interval=None):
    """Register an async handler(request, ws, **path_params) for WebSocket.

    The upgrade request goes through before_request hooks (which may refuse
    it) and routing like any GET. max_message_size (bytes, after reassembly)
    defaults to 4 KiB on MicroPython and 1 MiB on CPython; a bigger message
    closes the connection with 1009. subprotocols lists the names the server
    speaks, in order of preference. ping_interval (seconds): the server pings
    the client that often and closes it (1006) when it has not answered the
    previous ping; the handler, if it is waiting in receive(), gets
    WebSocketClosed, and if it is waiting elsewhere, is cancelled.
    """
    limit = max_message_size or DEFAULT_MAX_MESSAGE_SIZE

    def register(handler):
        async def upgrade(request, **params):
            accept, chosen = handshake(request, subprotocols)
            response = WebSocketResponse(request, handler, params, accept, limit, chosen)
            if ping_interval:
                response.ping_interval = ping_interval
            return response

        app.route(url_pattern, ("GET",))(upgrade)
        return handler

    return register
