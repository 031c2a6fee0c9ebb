# The asyncio connection loop. Each connection is a small state machine
# (idle, reading, handling, writing, closing) whose every transition sets
# its own deadline; one loop enforces them. Parsing and framing decisions
# are protocol.py's pure functions, what differs between runtimes is
# runtime.Channel's, and this is the one writer of responses.
import asyncio
import gc

from . import runtime
from .protocol import (
    FIXED,
    NO_BODY,
    add_field,
    body_framing,
    check_host,
    encode_head,
    frame_response,
    parse_request_line,
    split_target,
)
from .request import Headers, Request
from .response import HTTPException, error_response
from .runtime import const

# Prepared at import: when the heap is exhausted there may be no room to
# build an answer.
_UNAVAILABLE = const(
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 32\r\nConnection: close\r\n\r\n"
    b'{"error": "Service Unavailable"}'
)

# Connection states (rare.py uses the same numbers). Expiry of the deadline
# means, by state:
_IDLE = const(0)  # waiting for a request: close quietly
_READING = const(1)  # a request has begun: answer 408
_HANDLING = const(2)  # the app has it: no deadline
_WRITING = const(3)  # a response is going out: only the write deadline (in drain)
_CLOSING = const(4)  # lingering so that the client reads our answer: close


class Connection(runtime.Channel):
    """One client's connection: the runtime's channel plus its state."""

    # Defaults live in the class: an instance holds only what has been set,
    # which keeps an idle connection small.
    state = _IDLE
    deadline = None  # ticks at which the state's time is up
    expired = False
    started = False  # the current response's head has been handed over
    streaming = False  # the current response ends only when its source does
    requests = 0  # exchanges completed
    peer = None  # the client's (host, port), once a request has asked
    task = None

    def enter(self, state, timeout=None):
        # timeout in ms: the new state's deadline from now (None: none)
        self.state = state
        self.deadline = None if timeout is None else runtime.ticks_ms() + timeout

    async def read_exact(self, size):
        buffer = self.buffer
        if len(buffer) >= size:
            self.buffer = buffer[size:]
            return bytes(buffer[:size])
        # Joined once at the end: the pieces are one read each, so a
        # fragmented heap needs a single free block of the full size.
        pieces = []
        try:
            while len(buffer) < size:
                pieces.append(bytes(buffer))
                size -= len(buffer)
                self.buffer = b""
                await self.fill()
                buffer = self.buffer
            pieces.append(bytes(buffer[:size]))
            self.buffer = buffer[size:]
            size = 0
            return b"".join(pieces)
        except MemoryError:
            # Read through what is still to come, so that the answer (503)
            # is not lost to a reset when the connection closes.
            pieces = None
            from .rare import skip

            await skip(self, size)
            raise


class Server:
    """Accepts connections for an App and converses HTTP/1.1 on each."""

    scheme = "http"
    # Refused or closing connections: not counted, still timed (a set once
    # there is one: see rare.py).
    lingering = ()

    def __init__(self, app):
        self.app = app
        if not app.max_connections:
            app.max_connections = runtime.MAX_CONNECTIONS
        self.connections = set()
        self.stopping = False
        self.patience_ms = int(app.read_timeout * 1000)
        self.idle_ms = int(app.keepalive_timeout * 1000)

    async def serve(self, host, port, ssl=None, socket=None):
        app = self.app
        for hook in app._startup:
            await runtime.call(hook)
        listener, app.port = await runtime.listen(
            self._accept, host, port, app.max_connections, ssl, socket
        )
        if socket is None:
            app.host = host
            where = "%s:%d" % (host, app.port)
        else:
            where = "unix:" + socket
        if ssl is not None:
            self.scheme = "https"
        if runtime.install_signal_handlers:  # None on a board
            runtime.install_signal_handlers(app)
        app._now_listening(None)
        runtime.announce("Serving on %s://%s/" % (self.scheme, where))
        # One loop both enforces the deadlines and notices stop(): no Event
        # to set across threads (sync handlers run in workers on CPython).
        period = max(0.02, min(app.read_timeout / 4, app.keepalive_timeout / 4, 0.25))
        try:
            while not self.stopping:
                await asyncio.sleep(period)
                now = runtime.ticks_ms()
                for group in (self.connections, self.lingering):
                    for conn in list(group):
                        for deadline in (conn.deadline, conn.write_deadline):
                            if deadline is not None and runtime.ticks_diff(now, deadline) >= 0:
                                self.expire(conn)
        finally:
            self.stopping = True
        from .rare import shut_down

        await shut_down(self, listener)

    def stop(self):
        """Ask serve() to stop; safe from any thread and from signal handlers."""
        self.stopping = True

    def expire(self, conn):
        if not conn.expired:
            conn.expired = True
            conn.deadline = None
            if conn.task is not None:
                conn.task.cancel()

    # Accepting ------------------------------------------------------------------

    def _accept(self, raw, address):
        """The runtime's callback for a new connection: the coroutine to run."""
        conn = Connection(raw)
        conn.patience_ms = self.patience_ms  # read_timeout, also the write deadline
        if self.stopping or len(self.connections) >= self.app.max_connections:
            # The seldom-used paths load (and cost heap) when first needed.
            from .rare import make_room, refuse

            if self.stopping or not make_room(self):
                return refuse(self, conn)
        self.connections.add(conn)
        # Idle (the class's state) until its first request starts: a new
        # connection holds only what it must (see the idle-connection budget).
        conn.deadline = runtime.ticks_ms() + self.patience_ms
        return self._converse(conn, address)

    # One connection -----------------------------------------------------------------

    async def _converse(self, conn, address):
        # While a connection is idle this frame and the channel's fill() are
        # all it holds, so both stay small: _exchange answers what goes
        # wrong during a request, this only what ends an idle connection.
        conn.task = asyncio.current_task()
        try:
            while not conn.expired:  # expired before it began: shutting down
                if not conn.buffer:
                    await conn.fill()  # EOFError: the client is done
                if not await self._exchange(conn, address):
                    break
        except (EOFError, OSError):
            pass  # the client went away
        except MemoryError:
            conn.buffer = b""
            gc.collect()
            if not conn.started:
                # Nothing of a response has gone out: the prepared answer
                # cannot be mistaken for part of one.
                await send_unavailable(conn)
        except BaseException:
            # No `as`: it would make this frame larger. Expiry ends quietly;
            # anything else is still asyncio's to see, once the connection
            # is freed.
            await self._close(conn)
            if not conn.expired:
                raise
            return
        await self._close(conn)

    async def _close(self, conn):
        conn.enter(_CLOSING)
        # Reset only a response cut short: a client that has it all gets a FIN.
        await conn.close(conn.started)
        # Counted until the socket is really closed: the cap is on sockets.
        self.connections.discard(conn)

    async def _exchange(self, conn, address):
        """Read one request, dispatch it, write the response: whether to go on."""
        app = self.app
        method, version = "GET", "HTTP/1.1"  # until the request line says
        line = request = None
        try:
            end = await self._read_request_line(conn)
            if end is None:
                return False
            line = method, target, version = parse_request_line(conn.buffer, end)
            headers = await self._read_fields(conn, end + 2, version)
            if conn.peer is None:
                # Not at accept: an idle connection keeps what accept gave.
                conn.peer = runtime.peer_address(address)
            request = Request(
                app, method, target, "", headers, b"", conn.peer, version, self.scheme
            )
            request.path, request.query_string = split_target(target)
            request.body = await self._read_body(conn, request)
        except HTTPException as exc:
            # The request could not be read to its end: answered, then closed.
            conn.enter(_HANDLING)
            if request is None:
                # Not even a head: no app to ask. A HEAD is answered without a body.
                if line is None and conn.buffer[:5] == b"HEAD ":
                    method = "HEAD"
                response = error_response(exc)
            else:
                response = await app.handle_error(request, exc)
            return await self.finish(conn, response, method, version, None, False)
        except asyncio.CancelledError:
            from .rare import answer_timeout

            return await answer_timeout(self, conn, method, version)
        conn.enter(_HANDLING)
        try:
            response = await app.dispatch(request)
        except asyncio.CancelledError:
            from .rare import cancelled_by_app

            response = cancelled_by_app(conn)
        return await self.finish(conn, response, method, version, headers.get("connection"), True)

    async def finish(self, conn, response, method, version, connection, reusable):
        """Write a response; whether the connection can carry another request."""
        reusable = reusable and not self.stopping
        while True:
            status = response.status_code
            try:
                length = response.content_length()
                fields, mode, keep_alive = frame_response(
                    method,
                    version,
                    connection,
                    status,
                    length,
                    response.upgrade and status == 101,
                    reusable,
                )
                head = encode_head(
                    status, response.headers, fields, runtime.http_date(), response.version
                )
                break
            except Exception as exc:
                # A bad status or header: nothing has gone out, so 500 can.
                runtime.log_exception(exc)
                response = error_response(HTTPException(500))
        conn.enter(_WRITING)
        conn.started = True
        try:
            done = await self._write(conn, response, head, mode, length)
        except (EOFError, OSError, MemoryError, asyncio.CancelledError):
            raise
        except Exception as exc:
            # Cut off half way (a stream that failed): closing tells the client.
            runtime.log_exception(exc)
            return False
        if not done:
            return False
        conn.started = False
        conn.requests += 1
        if not reusable:
            from .rare import linger

            await linger(self, conn)  # the request may not have been read to its end
            return False
        if keep_alive:
            conn.enter(_IDLE, self.idle_ms)
        return keep_alive

    async def _write(self, conn, response, head, mode, length):
        """Put the head and body on the wire; False when the connection was taken over."""
        body = response.body
        # Bytes in hand (not a file's empty stand-in): head and body in one go.
        if mode == FIXED and body.__class__ is bytes and len(body) == length:
            if len(body) <= 1024:
                conn.write(head + body)
            else:
                conn.write(head)
                conn.write(body)
            await conn.drain()
            return True
        conn.write(head)
        await conn.drain()
        if mode != NO_BODY or response.upgrade:
            # A file, a stream or a WebSocket: their writer loads when first used.
            from .bodies import write

            return await write(conn, response, mode)
        await response.close()
        return True

    # Reading -----------------------------------------------------------------------

    async def _read_request_line(self, conn):
        """Where the next request's line ends (its CRLF) in conn.buffer, or
        None at the end."""
        app = self.app
        conn.enter(_READING, self.patience_ms)
        while True:
            buffer = conn.buffer
            while buffer.startswith(b"\r\n"):
                # RFC 9112 2.2: ignore empty lines before a request.
                buffer = conn.buffer = buffer[2:]
            end = buffer.find(b"\r\n")
            # The slack lets a line at the limit wait for its CRLF.
            too_long = end > app.max_request_line or (
                end < 0 and len(buffer) > app.max_request_line + 1
            )
            if end < 0 or too_long:
                # What cannot be HTTP is refused at once (400, not 414). Only
                # a line that came in pieces, or a long one, gets here: the
                # check loads when first needed.
                from .unusual import check_request_start

                check_request_start(buffer)
            if too_long:
                raise HTTPException(414)
            if end >= 0:
                return end
            try:
                await conn.fill()
            except EOFError:
                return None

    async def _read_fields(self, conn, pos, version):
        """The header fields from conn.buffer[pos:] to the empty line; what
        follows stays in conn.buffer.

        Each field is taken as soon as its line is complete, so that only
        the line still arriving is buffered: a head at max_head_size never
        needs a block of that size (nor a copy of it) on a board's heap.
        The limits are counted as the fields come, before they are kept.
        """
        app = self.app
        headers = Headers()
        buffer = conn.buffer
        size = pos  # bytes of the head up to buffer[pos]
        count = 0
        while True:
            # While the head's end has not come, each time more has: the
            # complete lines are counted before any field in them is kept.
            if (
                buffer.find(b"\r\n\r\n", pos - 2 if pos >= 2 else 0) < 0
                and not buffer.startswith(b"\r\n", pos)
                and count + buffer.count(b"\r\n", pos) > app.max_headers
            ):
                raise HTTPException(431)
            end = buffer.find(b"\r\n", pos)
            while end > pos:  # the complete lines in hand
                count += 1
                size += end + 2 - pos
                # size counts this line's CRLF, which the head's length does not.
                if count > app.max_headers or size > app.max_head_size + 2:
                    raise HTTPException(431)
                add_field(headers, buffer, pos, end)
                pos = end + 2
                end = buffer.find(b"\r\n", pos)
            if end == pos:
                break  # the empty line
            # The slack lets a head at the limit wait for its CRLF CRLF.
            if size + len(buffer) - pos > app.max_head_size + 3:
                raise HTTPException(431)
            conn.buffer = buffer[pos:]  # the line still arriving
            await conn.fill()
            buffer, pos = conn.buffer, 0
        pos += 2
        # A body is handed on as bytes; nothing, as the one empty bytes (an
        # empty slice is an object of its own, kept by an idle connection).
        conn.buffer = bytes(buffer[pos:]) if pos < len(buffer) else b""
        check_host(headers, version)
        return headers

    async def _read_body(self, conn, request):
        app = self.app
        length = body_framing(request.headers, request.http_version)
        if length == 0:
            return b""
        if length is not None and length > app.max_body_size:
            raise HTTPException(413)
        if "expect" in request.headers:
            from .rare import expect

            await expect(conn, request)
        if length is not None:
            return await conn.read_exact(length)
        from .chunked import read_chunked

        return await read_chunked(conn, app.max_body_size, app.max_head_size)


async def send_unavailable(conn):
    """503 from bytes prepared at import: there may be no heap to build one."""
    try:
        conn.write(_UNAVAILABLE)
        await conn.drain()
    except Exception:
        pass
