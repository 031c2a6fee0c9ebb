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


class Channel:
    """A client's asyncio streams and what has been received and not yet taken."""

    buffer = b""
    write_deadline = None  # see runtime.Channel
    # After the half-close the client sees the end at once and closes; this
    # bounds the wait for it (ms).
    linger_ms = 1000

    def __init__(self, streams):
        self.reader, self.writer = streams

    async def fill(self):
        data = await self.reader.read(65536)
        if not data:
            raise EOFError
        self.buffer = self.buffer + data if self.buffer else data

    async def read_into(self, view):
        got = _take_buffered(self, view)
        while got < len(view):
            data = await self.reader.read(len(view) - got)
            if not data:
                raise EOFError
            view[got : got + len(data)] = data
            got += len(data)

    def write(self, data):
        self.writer.write(data)

    async def drain(self):
        # drain() returns at once below the high-water mark, and otherwise
        # waits for the client: that wait is what the deadline bounds.
        self.write_deadline = ticks_ms() + self.patience_ms
        try:
            await self.writer.drain()
        finally:
            self.write_deadline = None

    async def close(self, abort=False):
        writer = self.writer
        if abort or writer.transport.get_write_buffer_size():
            # close() would wait for the client to take the buffered data,
            # however long it stalls: a connection must end when it is over.
            writer.transport.abort()
            return
        try:
            writer.close()
            await writer.wait_closed()
        except asyncio.CancelledError:
            # Serving has ended and asyncio.run() cancels what is left: a TLS
            # peer that never answers close_notify keeps wait_closed() waiting
            # for up to 30 s. The connection is over either way.
            writer.transport.abort()
        except Exception:
            pass

    def end_output(self):
        """Half-close: the client sees the end of the response at once."""
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
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
        from .unixsocket import listen_unix

        listener, _ = await listen_unix(callback, path, backlog, ssl)
        return listener, None

    def accept(reader, writer):
        return callback((reader, writer), peer_address(writer.get_extra_info("peername")))

    server = await asyncio.start_server(accept, host, port, backlog=backlog, ssl=ssl)
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
