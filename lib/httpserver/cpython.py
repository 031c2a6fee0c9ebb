# The CPython side of runtime.py: worker threads for sync handlers, signals,
# mimetypes and logging. Never imported on a board.
import asyncio
import inspect
import logging
import mimetypes
import signal
import time

# Defined in runtime.py before it imports this module: shared by both channels.
from .runtime import _take_buffered

MAX_CONNECTIONS = 1000
FILE_BLOCK_SIZE = 65536
MAX_MESSAGE_SIZE = 1048576
# Sync handlers run in worker threads, so that they cannot stall the loop.
THREADS = True

logger = logging.getLogger("httpserver")
if not logger.handlers and not logging.getLogger().handlers:
    # Make errors visible without the app having to configure logging.
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

__all__ = [
    "MAX_CONNECTIONS",
    "FILE_BLOCK_SIZE",
    "MAX_MESSAGE_SIZE",
    "ticks_ms",
    "ticks_diff",
    "call",
    "pump",
    "THREADS",
    "const",
    "Channel",
    "http_date",
    "log_exception",
    "announce",
    "peer_address",
    "guess_type",
    "listen",
    "close_listener",
    "install_signal_handlers",
]

_async_functions = {}


def const(value):
    return value


def ticks_ms():
    return int(time.monotonic() * 1000)


def ticks_diff(end, start):
    return end - start


def _is_async(function):
    known = _async_functions.get(function)
    if known is None:
        known = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004
        )
        try:
            _async_functions[function] = known
        except TypeError:
            pass  # unhashable callables are simply asked every time
    return known


async def call(function, *args, **kwargs):
    """Await an async function; run a sync one in a worker thread."""
    if _is_async(function):
        return await function(*args, **kwargs)
    result = await asyncio.to_thread(function, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def log_exception(exc):
    logger.error("unhandled exception", exc_info=(type(exc), exc, exc.__traceback__))


class Link(asyncio.Protocol):
    """asyncio's side of a client connection: it hands what arrives to the
    connection's channel and tells it when it may write and when it is over.

    A protocol rather than asyncio's streams: a request then costs no
    StreamReader buffer, feed or waiter of its own (about 10% of the rate).
    """

    channel = None

    def __init__(self, callback, peer):
        self.callback = callback
        self.peer = peer  # a fixed address (a Unix socket has none), or None: ask

    def connection_made(self, transport):
        self.transport = transport
        peer = self.peer or peer_address(transport.get_extra_info("peername"))
        # The callback makes (and links) the channel, before any data comes.
        # The task is held here: asyncio keeps only a weak reference to it.
        self.task = asyncio.get_running_loop().create_task(self.callback(self, peer))

    def data_received(self, data):
        channel = self.channel
        channel.buffer = channel.buffer + data if channel.buffer else data
        if len(channel.buffer) > _READ_LIMIT:
            # Taken no faster than the server reads it: the kernel's buffers
            # and TCP's window hold the rest.
            self.transport.pause_reading()
            channel.paused = True
        channel.wake()

    def eof_received(self):
        self.channel.ended = True
        self.channel.wake()
        # Keep the transport open, so that our answer may still go out; TLS
        # cannot (asyncio warns when asked), its close_notify ends both ways.
        return self.transport.get_extra_info("sslcontext") is None

    def pause_writing(self):
        self.channel.writable = False

    def resume_writing(self):
        self.channel.writable = True
        self.channel.wake()

    def connection_lost(self, exc):
        channel = self.channel
        channel.ended = channel.lost = True
        channel.writable = True
        channel.wake()


# Read no more from a client while this much is buffered and not taken.
_READ_LIMIT = 65536


class Channel:
    """A client's connection, what has been received and not yet taken, and
    the waiting for input and for room to write."""

    buffer = b""
    write_deadline = None  # see runtime.Channel
    # After the half-close the client sees the end at once and closes; this
    # bounds the wait for it (ms).
    linger_ms = 1000
    ended = False  # no more input will come
    lost = False  # the transport is closed
    writable = True  # below the transport's high-water mark
    paused = False  # reading paused while the buffer is full
    # The futures of the tasks waiting on this connection: a WebSocket's
    # reader may wait for input while another task waits to write.
    _waiters = ()

    def __init__(self, link):
        self.transport = link.transport
        link.channel = self

    def wake(self):
        """Something changed (input, room to write, the end): every waiter
        looks again at what it waits for."""
        waiters = self._waiters
        if waiters:
            self._waiters = ()
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _wait(self):
        # The future itself is awaited: no coroutine per wait.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters += (waiter,)
        return waiter

    async def fill(self):
        """Wait until more has been added to buffer; EOFError once the client has closed."""
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        size = len(self.buffer)
        while len(self.buffer) == size:
            if self.ended:
                raise EOFError
            await self._wait()

    async def read_into(self, view):
        got = _take_buffered(self, view)
        while got < len(view):
            await self.fill()
            got += _take_buffered(self, view[got:])

    def write(self, data):
        if not self.lost:
            self.transport.write(data)

    async def drain(self):
        # Returns at once below the high-water mark, and otherwise waits for
        # the client: that wait is what the deadline bounds.
        if self.lost:
            raise ConnectionResetError("the client has gone")
        if self.writable:
            return
        self.write_deadline = ticks_ms() + self.patience_ms
        try:
            while not self.writable:
                await self._wait()
        finally:
            self.write_deadline = None
        if self.lost:
            raise ConnectionResetError("the client has gone")

    async def close(self, abort=False):
        transport = self.transport
        if abort or transport.get_write_buffer_size():
            # close() would wait for the client to take the buffered data,
            # however long it stalls: a connection must end when it is over.
            transport.abort()
            return
        transport.close()
        try:
            # Over when the socket is: the cap counts sockets.
            while not self.lost:
                await self._wait()
        except asyncio.CancelledError:
            # Serving has ended and asyncio.run() cancels what is left: a TLS
            # peer that never answers close_notify keeps the close waiting
            # for up to 30 s. The connection is over either way.
            transport.abort()

    def end_output(self):
        """Half-close: the client sees the end of the response at once."""
        try:
            if self.transport.can_write_eof():
                self.transport.write_eof()
        except (OSError, RuntimeError):
            pass


async def pump(source, deliver):
    """Await deliver(chunk) for each chunk of an async or plain iterable."""
    if hasattr(source, "__aiter__"):
        async for chunk in source:
            await deliver(chunk)
    else:
        for chunk in source:
            await deliver(chunk)


def announce(message):
    print(message, flush=True)


def peer_address(address):
    """The client's (host, port); IPv6 gives (host, port, flowinfo, scope_id)."""
    if not address:
        return None
    return tuple(address[:2]) if len(address) > 2 else address


def guess_type(path):
    return mimetypes.guess_type(path)[0]


_date = None
_date_second = None


def http_date():
    """The Date field's value now (formatted once a second)."""
    global _date, _date_second
    second = int(time.time())
    if second != _date_second:
        from .protocol import http_date as format_date

        _date = format_date(time.gmtime(second))
        _date_second = second
    return _date


async def listen(callback, host, port, backlog, ssl=None, path=None):
    """Start listening; returns (listener, port), port None on a Unix socket."""
    if path is not None:  # a Unix socket's
        from .unixsocket import NO_ADDRESS, listen_unix

        listener, _ = await listen_unix(lambda: Link(callback, NO_ADDRESS), path, backlog, ssl)
        return listener, None

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Link(callback, None), host, port, backlog=backlog, ssl=ssl
    )
    return server, server.sockets[0].getsockname()[1]


async def close_listener(listener):
    """Stop accepting (an asyncio Server, or the Unix socket's listener)."""
    listener.close()
    await listener.wait_closed()


def install_signal_handlers(app):
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, app.shutdown)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without signals
