# What the server does seldom: refusing a client over the cap, making room
# for one, answering a request that ran out of time, closing gently after
# bad input, input that did not fit, and shutting down. Loaded on first
# use: on a board every name and line of code costs heap, and an ordinary
# request needs none of this.
import asyncio

from . import runtime
from .response import HTTPException, error_response
from .runtime import const
from .server import send_unavailable

# Connection states: server.py's numbers.
_IDLE = const(0)
_READING = const(1)
_HANDLING = const(2)
_CLOSING = const(4)

# A refused connection's time to send its request and read the answer (ms).
_REFUSAL_MS = const(1000)
# Refused connections may send this much of a request before we answer.
_REFUSED_HEAD = const(2048)
# At most this much input is read and dropped while closing (bytes).
_LINGER_BYTES = const(65536)


def make_room(server):
    """Close a connection that is done, or the longest-idle kept-alive one;
    whether there was one.

    A browser keeps several connections open between requests; a second
    visitor must not be refused because of them (RFC 9112 9.5 lets a
    server close an idle connection at any time).
    """
    oldest = None
    for conn in server.connections:
        if conn.state == _IDLE and conn.requests and not conn.expired:
            # The same keep-alive time for all: the earliest deadline is the oldest.
            if oldest is None or runtime.ticks_diff(conn.deadline, oldest.deadline) < 0:
                oldest = conn
    if oldest is None:
        return False
    server.expire(oldest)
    return True


async def refuse(server, conn):
    """A complete 503 for a client beyond the cap, never a reset."""
    if len(server.lingering) >= 2 * server.app.max_connections:
        await conn.close(True)  # a flood: what it costs is bounded first
        return
    conn.task = asyncio.current_task()
    _lingering(server).add(conn)
    conn.enter(_CLOSING, _REFUSAL_MS)
    try:
        # Read the request's head first: closing with unread data would
        # reset the connection, and some clients then lose the answer.
        while b"\r\n\r\n" not in conn.buffer and len(conn.buffer) < _REFUSED_HEAD:
            await conn.fill()
    except BaseException:
        pass  # the client ended, or time is up: answer all the same
    conn.buffer = b""
    await send_unavailable(conn)
    if not conn.expired:
        await _linger(conn)
    server.lingering.discard(conn)
    await conn.close()


async def linger(server, conn):
    """Close gently after an answer that left input unread (RFC 9112 9.6).

    Closing with unread input resets the connection, and the client may
    lose our answer with it: first our end of the output, then what the
    client still sends is read and dropped, for a short while. Meanwhile
    the connection makes room for a new one: it is answered already.
    """
    if len(server.lingering) >= 2 * server.app.max_connections:
        return  # a flood: closed at once
    server.connections.discard(conn)
    _lingering(server).add(conn)
    await _linger(conn)
    server.lingering.discard(conn)


async def _linger(conn):
    if conn.end_output:
        conn.end_output()  # the client sees the end of our answer at once
    conn.enter(_CLOSING, conn.linger_ms)
    budget = _LINGER_BYTES
    try:
        while budget > 0:
            conn.buffer = b""
            await conn.fill()
            budget -= len(conn.buffer)
    except BaseException:
        pass  # closed by the client, or quiet long enough


async def answer_timeout(server, conn, method, version):
    """408 for a request that did not arrive within read_timeout."""
    if not conn.expired:
        raise asyncio.CancelledError  # not ours: a shutdown of the loop
    if conn.state == _READING:
        conn.expired = False  # the answer gets its own write deadline
        conn.enter(_HANDLING)
        await server.finish(conn, error_response(HTTPException(408)), method, version, None, False)
        conn.expired = True
    return False


def cancelled_by_app(conn):
    """A CancelledError out of the app: ours (expiry, shutdown) goes on up; one
    the app raised itself is a 500."""
    if conn.expired:
        raise asyncio.CancelledError
    runtime.log_exception(asyncio.CancelledError("raised while handling a request"))
    return error_response(HTTPException(500))


async def skip(conn, size):
    """Discard the next size bytes of input (a body that did not fit)."""
    while True:
        buffer = conn.buffer
        if len(buffer) >= size:
            conn.buffer = buffer[size:]
            return
        size -= len(buffer)
        conn.buffer = b""
        await conn.fill()


async def expect(conn, request):
    """Answer Expect: 100-continue (RFC 9110 10.1.1); 417 for anything else."""
    if request.headers["expect"].lower() != "100-continue":
        raise HTTPException(417)
    if request.http_version == "HTTP/1.1":
        conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await conn.drain()  # its own write deadline; the read deadline stands


async def shut_down(server, listener):
    """After stop(): no new connections, requests in flight finished (or
    ended at shutdown_timeout), then the shutdown hooks."""
    try:
        await runtime.close_listener(listener)
    except Exception:
        pass
    try:
        await _drain(server)
    finally:
        server.stopping = True
    for hook in server.app._shutdown:
        try:
            await runtime.call(hook)
        except Exception as exc:
            runtime.log_exception(exc)


async def _drain(server):
    """Let requests in flight finish; close idle connections and streams."""
    give_up = runtime.ticks_ms() + int(server.app.shutdown_timeout * 1000)
    while server.connections or server.lingering:
        late = runtime.ticks_diff(runtime.ticks_ms(), give_up) >= 0
        for conn in list(server.connections) + list(server.lingering):
            # Requests in flight may finish, but not a response that never
            # ends by itself (a stream or a WebSocket).
            if late or conn.state == _IDLE or conn.state == _CLOSING or conn.streaming:
                server.expire(conn)
        await asyncio.sleep(0.02)


def _lingering(server):
    # The class's empty tuple until the first one: then a set, kept.
    if server.lingering == ():
        server.lingering = set()
    return server.lingering
