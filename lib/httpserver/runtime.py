# What differs between MicroPython and CPython, in one place. The defaults
# below are MicroPython's; on CPython the thin shim in cpython.py replaces
# them. Nothing else in the package asks which runtime it is on.
import asyncio
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"

# Sized for a board: lwIP on an ESP32 allows about ten sockets in all.
MAX_CONNECTIONS = 8
FILE_BLOCK_SIZE = 512

# One receive buffer for every connection: what arrives is copied out at its
# exact size before the next await, so a board never needs a large free
# block per read (a fragmented heap often has none).
_received = bytearray(512)
_received_view = memoryview(_received)

ticks_ms = getattr(time, "ticks_ms", None)
ticks_diff = getattr(time, "ticks_diff", None)
_GENERATOR = type((lambda: (yield))())


async def call(function, *args, **kwargs):
    """Call a handler or hook, sync or async, and return its result.

    On a board there are no worker threads: a sync function runs inline.
    """
    result = function(*args, **kwargs)
    if isinstance(result, _GENERATOR):
        result = await result
    return result


def log_exception(exc):
    sys.print_exception(exc)


def pump(source, deliver):
    """Await deliver(chunk) for each chunk that source produces.

    MicroPython runs an `async def` that yields as a plain generator, in
    which each await surfaces as a yield of a non-chunk (None). Those are
    passed up to the scheduler, so both sync and async generators work.
    """
    if hasattr(source, "__anext__"):
        while True:
            try:
                chunk = yield from source.__anext__()
            except StopAsyncIteration:
                return
            yield from deliver(chunk)
    sent = None
    while True:
        try:
            item = source.send(sent)
        except StopIteration:
            return
        sent = None
        if item is None:
            # An await inside the generator: the scheduler's business.
            sent = yield
        else:
            yield from deliver(item)


# A connection's channel (conn.channel) is its socket: no Stream object, so
# an idle connection holds its socket, its task, the server's frame and
# fill's. The functions that wait are generators, which MicroPython's asyncio
# awaits like coroutines (CPython, which replaces them, would not accept
# `return` in `async def`).
_io_queue = asyncio.core._io_queue if MICROPYTHON else None  # type: ignore[attr-defined]


def fill(conn):
    """Append what arrives on the connection to conn.buffer; EOFError at the end."""
    # An idle connection holds this frame: the work is done in plain
    # functions, which keep the frame at its smallest.
    while True:
        yield _wait_readable(conn)
        if _receive(conn):
            return


def _wait_readable(conn):
    _io_queue.queue_read(conn.channel)


def _receive(conn):
    count = conn.channel.readinto(_received)
    if count is None:
        return False  # nothing yet, or (TLS) a record without application data
    if not count:
        raise EOFError
    conn.buffer += _received_view[:count]
    return True


def write(conn, data):
    """Hand data to the socket; what it does not take waits for drain()."""
    if conn.unsent:
        conn.unsent = bytes(conn.unsent) + data
        return
    count = conn.channel.write(data) or 0  # None: the socket is full
    if count < len(data):
        conn.unsent = memoryview(data)[count:]


def drain(conn):
    """Wait until the socket has taken all that was written."""
    sock = conn.channel
    while conn.unsent:
        yield _io_queue.queue_write(sock)
        count = sock.write(conn.unsent)
        if count:
            conn.unsent = conn.unsent[count:]
    conn.unsent = b""


async def close(conn):
    try:
        conn.channel.close()
    except OSError:
        pass


def announce(message):
    print(message)


def peer_address(address):
    """The client's (host, port) from what accept gave; as is if it is one."""
    if isinstance(address, (bytes, bytearray)):
        # The unix port hands out a raw sockaddr; boards give a tuple, and
        # their firmware (and stubs) lack these two functions.
        import socket

        family, host, port = socket.sockaddr(address)[:3]  # type: ignore[attr-defined]
        return (socket.inet_ntop(family, host), port)  # type: ignore[attr-defined]
    return address


def guess_type(path):
    return None


class _Listener:
    """A listening socket and its accept loop.

    Like MicroPython's asyncio.start_server, except that a MemoryError while
    taking a connection costs only that connection: there, it ends the
    accept task and the board stops answering until it is reset.
    """

    def __init__(self, sock, callback, ssl):
        self.sock = sock
        self.task = asyncio.create_task(self._accept(callback, ssl))

    async def _accept(self, callback, ssl):
        sock = self.sock
        while True:
            try:
                yield _io_queue.queue_read(sock)
            except asyncio.CancelledError:
                sock.close()
                raise
            client = None
            try:
                client, address = sock.accept()
                if ssl is not None:
                    client = ssl.wrap_socket(
                        client, server_side=True, do_handshake_on_connect=False
                    )
                client.setblocking(False)
                asyncio.create_task(callback(client, address))
            except Exception as exc:  # MemoryError included: drop this client only
                if client is not None:
                    client.close()
                if isinstance(exc, MemoryError):
                    import gc

                    gc.collect()

    def close(self):
        self.task.cancel()

    async def wait_closed(self):
        pass


async def listen(callback, host, port, backlog, ssl=None):
    """Start listening; port 0 picks a free port. Returns (listener, port).

    MicroPython's sockets cannot tell their own port, so port 0 means
    trying random ports from the dynamic range.
    """
    import os
    import socket

    for _ in range(50):
        candidate = port or 49152 + int.from_bytes(os.urandom(2), "big") % 16000
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(socket.getaddrinfo(host, candidate)[0][-1])
        except OSError as exc:
            sock.close()
            if port or exc.args[0] not in (98, 112):  # EADDRINUSE (Linux, lwIP)
                raise
            continue
        sock.listen(backlog)
        sock.setblocking(False)
        return _Listener(sock, callback, ssl), candidate
    raise OSError("no free port found")


def install_signal_handlers(app):
    pass


if not MICROPYTHON:
    from .cpython import *  # noqa: F401,F403
