# What differs between MicroPython and CPython, in one place. The defaults
# below are MicroPython's; on CPython the thin shim in cpython.py replaces
# them. Nothing else in the package asks which runtime it is on.
import asyncio
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"

# const(): on MicroPython the compiler puts the value of `_NAME = const(...)`
# in place and keeps neither the name nor a global for it.
const = getattr(__import__("micropython") if MICROPYTHON else None, "const", None)

# Sized for a board: lwIP on an ESP32 allows about ten sockets in all.
MAX_CONNECTIONS = 8
FILE_BLOCK_SIZE = 512
# A WebSocket message is held whole in RAM: a board has tens of KiB of heap.
MAX_MESSAGE_SIZE = 4096

# One receive buffer for every connection: what arrives is copied out at its
# exact size before the next await, so a board never needs a large free
# block per read (a fragmented heap often has none).
_received = bytearray(512)
_received_view = memoryview(_received)

ticks_ms = getattr(time, "ticks_ms", None)
ticks_diff = getattr(time, "ticks_diff", None)
# Sync handlers run on the event loop: a board has no worker threads.
THREADS = False
_GENERATOR = type((lambda: (yield))())


async def call(function, *args, **kwargs):
    """Call a handler or hook, sync or async, and return its result.

    On a board there are no worker threads: a sync function runs inline.
    """
    result = function(*args, **kwargs)
    if isinstance(result, _GENERATOR):
        result = await result
    return result


# Plain names for the firmware's own functions: a def of our own would cost
# a board heap for nothing.
log_exception = getattr(sys, "print_exception", None)  # CPython: cpython.py's


# How a stream's generator is driven: None here, streaming.py's own pump
# (loaded with StreamingResponse, not with every app); cpython.py's on CPython.
pump = None


def _take_buffered(conn, view):
    """Copy what the connection has buffered into the start of view; how much."""
    buffered = conn.buffer
    count = min(len(buffered), len(view))
    if count:
        view[:count] = buffered[:count]
        conn.buffer = buffered[count:]
    return count


# MicroPython's asyncio queue of sockets waiting to be readable or writable.
_io_queue = asyncio.core._io_queue if MICROPYTHON else None  # type: ignore[attr-defined]


class Channel:
    """A client's socket, what it has received and not yet taken, and what it
    has not yet sent.

    The waiting methods are generators, which MicroPython's asyncio awaits
    like coroutines; an idle connection holds only its fill() frame.
    """

    buffer = b""  # received, not yet consumed (bytes, or a bytearray while it grows)
    unsent = b""  # written, not yet taken by the socket
    write_deadline = None  # ticks at which a write that makes no progress gives up
    # Without a half-close the client cannot tell that we are done: after an
    # answer, input is awaited only this long (ms) before the socket closes.
    linger_ms = 200

    def __init__(self, sock):
        self.sock = sock

    def fill(self):
        """Append what arrives to buffer; EOFError once the client has closed."""
        while True:
            yield _io_queue.queue_read(self.sock)
            if self._receive():
                return

    def _receive(self):
        count = self.sock.readinto(_received)
        if count is None:
            return False  # nothing yet, or (TLS) a record without application data
        if not count:
            raise EOFError
        buffer = self.buffer
        if not buffer:
            self.buffer = bytes(_received_view[:count])
        elif isinstance(buffer, bytearray):
            # Grown in place: concatenating bytes would leave every shorter
            # copy behind as garbage, which a 4K head on a board cannot afford.
            buffer += _received_view[:count]
        else:
            grown = bytearray(buffer)
            grown += _received_view[:count]
            self.buffer = grown
        return True

    def read_into(self, view):
        """Fill view (a memoryview) with what comes next: first what is
        buffered, then straight from the socket, so that a large piece of
        input leaves no trail of small copies in the heap."""
        got = _take_buffered(self, view)
        sock = self.sock
        while got < len(view):
            yield _io_queue.queue_read(sock)
            count = sock.readinto(view[got:])
            if count is None:
                continue
            if not count:
                raise EOFError
            got += count

    def write(self, data):
        """Hand data to the socket; what it does not take waits for drain()."""
        if self.unsent:
            self.unsent = bytes(self.unsent) + data
            return
        count = self.sock.write(data) or 0  # None: the socket is full
        if count < len(data):
            self.unsent = memoryview(data)[count:]

    def drain(self):
        """Wait until the socket has taken all that was written."""
        if not self.unsent:
            return
        sock = self.sock
        self.write_deadline = ticks_ms() + self.patience_ms
        try:
            while self.unsent:
                yield _io_queue.queue_write(sock)
                count = sock.write(self.unsent)
                if count:
                    self.unsent = self.unsent[count:]
                    self.write_deadline = ticks_ms() + self.patience_ms
        finally:
            # Also when cancelled: a deadline left set says a drain is
            # running, and another writer (a WebSocket's) would not start one.
            self.write_deadline = None
        self.unsent = b""

    async def close(self, abort=False):
        # lwIP and the unix port close at once; unsent data is dropped.
        try:
            self.sock.close()
        except OSError:
            pass

    end_output = None  # a half-close: MicroPython's sockets have none


announce = print


def peer_address(address):
    """The client's (host, port) from what accept gave; as is if it is one."""
    if isinstance(address, (bytes, bytearray)):
        # The unix port hands out a raw sockaddr; boards give a tuple, and
        # their firmware (and stubs) lack these two functions.
        import socket

        family, host, port = socket.sockaddr(address)[:3]  # type: ignore[attr-defined]
        return (socket.inet_ntop(family, host), port)  # type: ignore[attr-defined]
    return address


guess_type = None  # no mimetypes module on a board: files.py's table serves


_date = (0, None)  # (ticks when formatted, the Date value)


def http_date():
    """The Date field's value for a response now, or None while the clock is unset.

    Formatted at most once a second: reading the clock allocates on some ports.
    """
    global _date
    now = ticks_ms()
    if _date[1] is None or ticks_diff(now, _date[0]) >= 1000:
        moment = time.gmtime()
        if moment[0] < 2024:
            return None  # a board before NTP: no Date is better than a wrong one
        from .protocol import http_date as format_date

        _date = (now, format_date(moment))
    return _date[1]


async def _accept_loop(sock, callback, ssl):
    """Take each new connection and start its task.

    Like MicroPython's asyncio.start_server, except that a MemoryError while
    taking a connection costs only that connection: there, it ends the
    accept task and the board stops answering until it is reset.
    """
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
                client = ssl.wrap_socket(client, server_side=True, do_handshake_on_connect=False)
            client.setblocking(False)
            asyncio.create_task(callback(client, address))
        except Exception as exc:  # MemoryError included: drop this client only
            if client is not None:
                client.close()
            if isinstance(exc, MemoryError):
                import gc

                gc.collect()


async def close_listener(listener):
    """Stop accepting: the listener is the accept loop's task."""
    listener.cancel()


async def listen(callback, host, port, backlog, ssl=None, path=None):
    """Start listening; port 0 picks a free port. Returns (listener, port).

    MicroPython's sockets cannot tell their own port, so port 0 means
    trying random ports from the dynamic range.
    """
    if path is not None:  # a Unix socket's
        raise NotImplementedError("serving on a Unix socket (socket=) needs CPython")
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
        return asyncio.create_task(_accept_loop(sock, callback, ssl)), candidate
    raise OSError("no free port found")


install_signal_handlers = None  # no signals to handle on a board


if not MICROPYTHON:
    from .cpython import *  # noqa: F401,F403
