# The asyncio connection loop: the only place that touches sockets. It reads
# bytes, hands them to the sans-IO protocol functions and the app, and writes
# what comes back. Runs unchanged on MicroPython's and CPython's asyncio.
import asyncio
import gc

from . import runtime
from .errors import HTTPException
from .protocol import body_framing, parse_head, split_target, wants_keep_alive
from .request import Headers, Request
from .response import error_response

# Prepared at import: when the heap is exhausted there may be no room to
# build an answer.
_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 32\r\nConnection: close\r\n\r\n"
    b'{"error": "Service Unavailable"}'
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_CLOSE = "Connection: close\r\n"
_KEEP_ALIVE_1_0 = "Connection: keep-alive\r\n"

# Connection states, for the deadlines and for shutdown.
_IDLE = 0  # between requests: expiry closes silently
_READING = 1  # a request has begun: expiry answers 408
_BUSY = 2  # the app is handling it: no deadline


class _Connection:
    """One client's connection; responses write through it (see drain)."""

    # Defaults live in the class: an instance holds only what has been set,
    # which keeps an idle connection small.
    buffer = b""
    unsent = b""  # output the socket has not taken yet (MicroPython)
    state = _IDLE
    deadline = None
    expired = False
    streaming = False  # a stream or WebSocket, which may never end
    peer = None  # the client's (host, port), once a request has asked
    task = None  # until the connection's task has begun

    def __init__(self, channel, patience_ms):
        self.channel = channel  # the runtime's: what it reads from and writes to
        self.patience_ms = patience_ms

    def write(self, data):
        runtime.write(self, data)

    async def drain(self):
        # A client that stops reading must not hold the connection forever:
        # a write that makes no progress for read_timeout ends it.
        self.deadline = runtime.ticks_ms() + self.patience_ms
        await runtime.drain(self)
        self.deadline = None

    async def read_exact(self, size):
        buffer = self.buffer
        if len(buffer) >= size:
            self.buffer = buffer[size:]
            return buffer[:size]
        # Joined once at the end: the pieces are one read each, so a
        # fragmented heap needs a single free block of the full size.
        pieces = []
        while len(buffer) < size:
            pieces.append(buffer)
            size -= len(buffer)
            self.buffer = b""
            await runtime.fill(self)
            buffer = self.buffer
        pieces.append(buffer[:size])
        self.buffer = buffer[size:]
        return b"".join(pieces)


class Server:
    """Accepts connections for an App and converses HTTP/1.1 on each."""

    def __init__(self, app):
        self.app = app
        if not app.max_connections:
            app.max_connections = runtime.MAX_CONNECTIONS
        self.connections = set()
        self.stopping = False

    async def serve(self, host, port, ssl=None, socket=None):
        app = self.app
        for hook in app._startup:
            await runtime.call(hook)
        if socket is None:
            listener, app.port = await runtime.listen(
                self._accept, host, port, app.max_connections, ssl
            )
            app.host = host
            where = "%s:%d" % (host, app.port)
        else:
            from .unixsocket import listen_unix

            listener, where = await listen_unix(self._accept, socket, app.max_connections, ssl)
        self.scheme = "https" if ssl is not None else "http"
        runtime.install_signal_handlers(app)
        runtime.announce("Serving on %s://%s/" % (self.scheme, where))
        # One loop both enforces the deadlines and notices stop(): no Event
        # to set across threads (sync handlers run in workers on CPython).
        period = max(0.02, min(app.read_timeout / 4, app.keepalive_timeout / 4, 0.25))
        try:
            while not self.stopping:
                await asyncio.sleep(period)
                if self.connections:
                    self._expire_overdue()
            listener.close()
            await self._drain()
        finally:
            self.stopping = True
        try:
            await listener.wait_closed()
        except Exception:
            pass
        for hook in app._shutdown:
            try:
                await runtime.call(hook)
            except Exception as exc:
                runtime.log_exception(exc)

    def stop(self):
        """Ask serve() to stop; safe from any thread and from signal handlers."""
        self.stopping = True

    async def _drain(self):
        """Let requests in flight finish; close idle connections and streams."""
        give_up = runtime.ticks_ms() + int(self.app.shutdown_timeout * 1000)
        while self.connections:
            for conn in list(self.connections):
                if (
                    conn.state == _IDLE
                    or conn.streaming
                    or runtime.ticks_diff(runtime.ticks_ms(), give_up) >= 0
                ):
                    self._expire(conn)
            await asyncio.sleep(0.02)

    def _expire(self, conn):
        if not conn.expired:
            conn.expired = True
            conn.deadline = None
            if conn.task is not None:
                conn.task.cancel()

    def _expire_overdue(self):
        now = runtime.ticks_ms()
        for conn in list(self.connections):
            if conn.deadline is not None and runtime.ticks_diff(now, conn.deadline) >= 0:
                self._expire(conn)

    def _accept(self, channel, address):
        """The runtime's callback for a new connection: the coroutine to run."""
        conn = _Connection(channel, int(self.app.read_timeout * 1000))
        if len(self.connections) >= self.app.max_connections or self.stopping:
            return _refuse(conn)
        self.connections.add(conn)
        conn.deadline = runtime.ticks_ms() + conn.patience_ms
        return self._converse(conn, address)

    async def _converse(self, conn, address):
        # While a connection is idle this frame and the runtime's fill() are
        # all it holds, so both stay small: _exchange answers what goes
        # wrong during a request, this only what ends an idle connection.
        conn.task = asyncio.current_task()
        try:
            while not conn.expired:  # expired before it began: shutting down
                if not conn.buffer:
                    await runtime.fill(conn)  # EOFError: the client is done
                if not await self._exchange(conn, address):
                    break
        except (EOFError, OSError):
            pass  # the client went away
        except MemoryError:
            conn.buffer = conn.unsent = b""
            gc.collect()
            await _send_unavailable(conn)
        except BaseException:
            # No `as`: it would make this frame larger. Expiry ends quietly;
            # anything else is still asyncio's to see, once the
            # connection is freed.
            await self._close(conn)
            if not conn.expired:
                raise
            return
        await self._close(conn)

    async def _close(self, conn):
        conn.deadline = None
        self.connections.discard(conn)
        await runtime.close(conn)

    async def _exchange(self, conn, address):
        """Read one request and answer it; whether the connection goes on."""
        try:
            app = self.app
            request = await self._read_head(conn, address)
            if request is None:
                return False
            try:
                request.body = await self._read_body(conn, request)
            except HTTPException as exc:
                conn.state = _BUSY
                conn.deadline = None
                response = await app.handle_error(request, exc)
                await response.write(conn, request.method != "HEAD", _CLOSE)
                return False
            conn.state = _BUSY
            conn.deadline = None
            try:
                response = await app.dispatch(request)
            except asyncio.CancelledError:
                if conn.expired:
                    raise
                # Raised by the app itself, not a cancellation of ours.
                runtime.log_exception(asyncio.CancelledError("raised while handling a request"))
                response = error_response(HTTPException(500))
            version = request.http_version
            keep_alive = (
                not self.stopping
                and wants_keep_alive(version, request.headers.get("connection"))
                and not (response.chunked and version == "HTTP/1.0")
                and not response.upgraded
            )
            if not keep_alive:
                connection = _CLOSE
            elif version == "HTTP/1.0":
                connection = _KEEP_ALIVE_1_0
            else:
                connection = ""
            send_body = request.method != "HEAD"
            conn.streaming = response.chunked or response.upgraded
            try:
                await response.write(conn, send_body, connection, version)
            except (EOFError, OSError, MemoryError):
                raise
            except Exception as exc:
                runtime.log_exception(exc)
                if response.encoded:
                    return False  # cut off half way: closing tells the client
                # Nothing was sent yet (a bad status or header): answer 500.
                await error_response(HTTPException(500)).write(conn, send_body, connection, version)
            conn.streaming = False
            if keep_alive:
                conn.state = _IDLE
                conn.deadline = runtime.ticks_ms() + int(app.keepalive_timeout * 1000)
            return keep_alive
        except HTTPException as exc:
            # The request could not be read: answer and close, as what
            # follows on the connection cannot be trusted.
            await _answer(conn, exc)
        except asyncio.CancelledError:
            if not conn.expired:
                raise
            if conn.state == _READING:
                await _answer(conn, HTTPException(408))
        except (EOFError, OSError, MemoryError):
            raise
        except Exception as exc:
            runtime.log_exception(exc)
        return False

    async def _read_head(self, conn, address):
        """The next request's head as a Request, or None if the client ends it."""
        app = self.app
        conn.state = _READING
        conn.deadline = runtime.ticks_ms() + conn.patience_ms
        while True:
            buffer = conn.buffer
            while buffer[:2] == b"\r\n":
                # RFC 9112 2.2: ignore empty lines before a request.
                buffer = conn.buffer = buffer[2:]
            end = buffer.find(b"\r\n\r\n")
            line_end = buffer.find(b"\r\n")
            # The slack lets a head at a limit wait for its CRLF (CRLF CRLF).
            if line_end > app.max_request_line or (
                line_end < 0 and len(buffer) > app.max_request_line + 1
            ):
                raise HTTPException(414)
            if end >= 0:
                break
            if len(buffer) > app.max_head_size + 3:
                raise HTTPException(431)
            try:
                await runtime.fill(conn)
            except EOFError:
                return None
        if end > app.max_head_size:
            raise HTTPException(431)
        conn.buffer = buffer[end + 4 :]
        method, target, version, headers = parse_head(buffer[:end], app.max_headers, Headers())
        path, query = split_target(target)
        if conn.peer is None:
            # Not at accept: an idle connection keeps what accept gave.
            conn.peer = runtime.peer_address(address)
        request = Request(app, method, path, query, headers, b"", conn.peer, version, self.scheme)
        # For responses that take the connection over (WebSocket).
        request.connection = conn
        return request

    async def _read_body(self, conn, request):
        app = self.app
        length = body_framing(request.headers, request.http_version)
        if length == 0:
            return b""
        if length is not None and length > app.max_body_size:
            raise HTTPException(413)
        expect = request.headers.get("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                raise HTTPException(417)
            if request.http_version == "HTTP/1.1":
                conn.write(_CONTINUE)
                await conn.drain()
        if length is not None:
            return await conn.read_exact(length)
        from .chunked import read_chunked

        return await read_chunked(conn, app.max_body_size, app.max_head_size)


async def _answer(conn, exc):
    try:
        await error_response(exc).write(conn, True, _CLOSE)
    except Exception:
        pass


async def _send_unavailable(conn):
    """503 from bytes prepared at import: there may be no heap to build one."""
    try:
        conn.write(_UNAVAILABLE)
        await runtime.drain(conn)
    except Exception:
        pass


async def _refuse(conn):
    await _send_unavailable(conn)
    await runtime.close(conn)
