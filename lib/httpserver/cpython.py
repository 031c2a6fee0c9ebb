# The CPython side of runtime.py: worker threads for sync handlers, signals,
# mimetypes and logging. Never imported on a board.
import asyncio
import inspect
import logging
import mimetypes
import signal
import time

MAX_CONNECTIONS = 1000
FILE_BLOCK_SIZE = 65536

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
    "ticks_ms",
    "ticks_diff",
    "call",
    "pump",
    "fill",
    "write",
    "drain",
    "close",
    "log_exception",
    "announce",
    "peer_address",
    "guess_type",
    "listen",
    "install_signal_handlers",
]

_async_functions = {}


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


# A connection's channel (conn.channel) is its (StreamReader, StreamWriter).
async def fill(conn):
    """Append what arrives on the connection to conn.buffer; EOFError at the end."""
    data = await conn.channel[0].read(16384)
    if not data:
        raise EOFError
    conn.buffer = conn.buffer + data if conn.buffer else data


def write(conn, data):
    conn.channel[1].write(data)


async def drain(conn):
    await conn.channel[1].drain()


async def close(conn):
    writer = conn.channel[1]
    try:
        writer.close()
        await writer.wait_closed()
    except asyncio.CancelledError:
        # Serving has ended and asyncio.run() cancels what is left: a TLS
        # peer that never answers close_notify keeps wait_closed() waiting
        # for up to 30 s. The connection is over either way.
        pass
    except Exception:
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


async def listen(callback, host, port, backlog, ssl=None):
    def accept(reader, writer):
        return callback((reader, writer), peer_address(writer.get_extra_info("peername")))

    server = await asyncio.start_server(accept, host, port, backlog=backlog, ssl=ssl)
    return server, server.sockets[0].getsockname()[1]


def install_signal_handlers(app):
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, app.shutdown)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without signals
