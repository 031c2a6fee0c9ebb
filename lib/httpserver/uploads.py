# Request bodies that a handler reads as they arrive: routes registered with
# stream=True (and any route given its own max_body_size). Loaded when the
# first such route is registered: an app without one never pays heap for it.
#
# The server matches a request's route before it reads the body; for a
# streamed route it hands the handler a request whose body is still on the
# connection, and the handler takes it with request.stream() or
# request.read(n), Content-Length and chunked alike, in pieces of bounded size.
#
# Nothing of this is in the core, so that an app without such a route keeps
# the core's heap and speed exactly: this module gives Request its stream()
# and read(), and the app a server of its own (bodyserver.py) that looks the
# route up before a body is read and closes after a body left unread.
import asyncio

from . import runtime
from .request import Request
from .response import HTTPException
from .runtime import const

# Connection states: server.py's numbers.
_READING = const(1)
_HANDLING = const(2)
# A piece of the body that read() and stream() hand out is at most this large.
_CHUNK = const(2048)
# errno's ENOSPC, the same number on Linux, lwIP's boards and littlefs/FAT.
_ENOSPC = const(28)


def add_route(app, pattern, methods, handler, options):
    """Register a route with body options: stream=True (the handler reads
    the body), max_body_size=N (the route's own limit). Returns handler."""
    registered = handler
    options = dict(options)  # the decorator may be applied more than once
    stream = options.pop("stream", False)
    limit = options.pop("max_body_size", None)
    if limit is None:  # 0 is a limit too: no body at all
        limit = app.max_body_size
    if options:
        raise TypeError("unknown route options %s" % list(options))
    if stream:
        handler = _streamed(handler)
    routes = getattr(app, "_body_routes", None)
    if routes is None:
        routes = app._body_routes = {}  # handler -> (stream, limit)
        app._make_server = _server
    routes[handler] = (stream, limit)
    app._router.add(pattern, methods or ("GET",), handler)
    return registered


def _streamed(handler):
    # What the handler leaves of the body is dropped once it returns: a
    # response that would read it while it streams out finds nothing left.
    async def streamed(request, **params):
        try:
            response = await runtime.call(handler, request, **params)
        except MemoryError:
            raise  # no room to read on: the server answers 503 and closes
        except Exception:
            await _settle(request)
            raise
        await _settle(request)
        return response

    return streamed


async def _settle(request):
    # Only a body still on the connection has anything to drop.
    if request._reader is not None:
        await request._reader.settle()


def _server(app):
    # The app's server, of a class loaded when the app starts (after its
    # collection, as the core's: loaded with the routes, it cut up the heap).
    from .bodyserver import BodyServer

    return BodyServer(app)


def reader(request):
    """The request's body reader: the connection's on a streamed route,
    else one over the body in hand (ordinary routes, the test client, ASGI)."""
    if request._reader is None:
        request._reader = in_hand(request.body)
    return request._reader


def in_hand(data):
    """A reader over bytes already received, from their start."""
    body = Body(None, len(data), len(data))
    body.data = data
    return body


class Reader:
    """read() and `async for` over a readinto() (request bodies and
    multipart parts)."""

    size = _CHUNK  # of the pieces `async for` hands out
    view = None  # what read() receives into, made with its first call

    async def read(self, size=-1):
        """At most size bytes more (all that is left when size < 0), as
        bytes; b"" at the end. Each call allocates its result (readinto()
        does not, which matters on a board's fragmented heap)."""
        if size < 0:
            pieces = []
            while True:
                piece = await self.read(_CHUNK)
                if not piece:
                    return b"".join(pieces)
                pieces.append(piece)
        if self.view is None:
            self.view = memoryview(bytearray(_CHUNK))
        view = self.view
        count = await self.readinto(view[:size] if size < _CHUNK else view)
        return bytes(view[:count])

    def __aiter__(self):
        return self

    async def __anext__(self):
        chunk = await self.read(self.size)
        if not chunk:
            raise StopAsyncIteration
        return chunk


class Body(Reader):
    """A request body read as the handler asks: from the connection on a
    streamed route (conn), else from the bytes in hand (data).

    Each wait for input has read_timeout (408, and the connection closes);
    more than the route's limit raises HTTPException(413) from the read; a
    body cut short or badly framed, 400. After any of them the connection
    closes once answered.
    """

    expect = False  # Expect: 100-continue still to be answered
    done = False  # read to its end
    failed = False
    chunk_left = 0  # chunked: data bytes left in the current chunk
    taken = 0  # chunked: data bytes so far

    def __init__(self, conn, length, limit):
        self.conn = conn
        self.left = length  # bytes still to come; None: chunked
        self.limit = limit

    async def read(self, size=-1):
        if size < 0 and self.conn is None:
            # The rest of a body in hand, as it is: no pieces to copy and join.
            data = self.data
            if self.left < len(data):  # (a slice of all of it is a copy on a board)
                data = data[len(data) - self.left :]
            self.left = 0
            return data
        return await Reader.read(self, size)

    async def readinto(self, view):
        """Fill view (a memoryview) from its start with the next bytes of
        the body; how many (0 at its end). Nothing is allocated per call."""
        conn = self.conn
        if self.done or self.left == 0 or not len(view):
            return 0
        if self.failed:
            raise HTTPException(400)
        if conn is None:  # the body in hand
            count = min(len(view), self.left)
            start = len(self.data) - self.left
            view[:count] = memoryview(self.data)[start : start + count]
            self.left -= count
            return count
        if self.expect:
            self.expect = False
            # The client waits for this before it sends the body.
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await conn.drain()
        try:
            if self.left is None:
                count = await self._chunked(view)
            else:
                count = min(len(view), self.left)
                await self._receive(view, count)
                self.left -= count
        except HTTPException:
            self.failed = True
            raise
        # Content-Length all read, or a chunked body past its last chunk.
        if self.left == 0 or not count:
            self.done = True
            conn.unread = False
        return count

    async def settle(self):
        """After the handler: read and drop what it left, within the limit;
        the connection closes after the answer if that cannot be done."""
        if self.conn is None or self.done or self.failed or self.expect:
            # Expect: the client was never told to send the body.
            return
        view = self.view or memoryview(bytearray(512))  # one, for every piece
        try:
            while await self.readinto(view):
                pass
        except HTTPException:
            pass

    async def _chunked(self, view):
        while not self.chunk_left:
            if self.taken:
                # The CRLF after the previous chunk's data.
                if await self._line(0, 400):
                    raise HTTPException(400)
            from .chunkgrammar import MAX_CHUNK_LINE, check_trailer, parse_chunk_size

            chunk = parse_chunk_size(await self._line(MAX_CHUNK_LINE, 400))
            if not chunk:
                trailer = 0
                while True:
                    line = await self._line(self.max_trailer, 431)
                    if not line:
                        return 0
                    trailer += len(line)
                    if trailer > self.max_trailer:
                        raise HTTPException(431)
                    check_trailer(line)
            self.taken += chunk
            if self.taken > self.limit:
                raise HTTPException(413)  # before its data is read
            self.chunk_left = chunk
        count = min(len(view), self.chunk_left)
        await self._receive(view, count)
        self.chunk_left -= count
        return count

    async def _line(self, limit, status):
        """The next line without its CRLF; HTTPException(status) past limit."""
        conn = self.conn
        while True:
            buffer = conn.buffer
            end = buffer.find(b"\r\n")
            # +1: a line at the limit may wait for the \n of its CRLF.
            if end > limit or (end < 0 and len(buffer) > limit + 1):
                raise HTTPException(status)
            if end >= 0:
                rest = buffer[end + 2 :]
                conn.buffer = rest if rest else b""
                return bytes(buffer[:end])
            await self._receive(None, 0)

    async def _receive(self, view, count):
        """Exactly count bytes into view (what is buffered first), or with
        no view more input into conn.buffer; under read_timeout: 408 when it
        is up, 400 when the client goes away."""
        conn = self.conn
        conn.enter(_READING, conn.patience_ms)
        try:
            if view is None:
                await conn.fill()
            else:
                await conn.read_into(view[:count] if count < len(view) else view)
        except asyncio.CancelledError:
            if conn.expired and conn.state == _READING:
                conn.expired = False  # the 408 gets its own write deadline
                raise HTTPException(408)
            raise
        except EOFError:
            raise HTTPException(400)
        finally:
            conn.enter(_HANDLING)


def _stream(request, size=_CHUNK):
    """The body in bytes pieces of at most size: `async for chunk in
    request.stream()`. On a stream=True route they come as they arrive."""
    body = reader(request)
    body.size = size
    return body


def _read(request, size=-1):
    """Await at most size bytes more of the body (all the rest when size < 0);
    b"" at its end."""
    return reader(request).read(size)


async def save(source, path):
    """Write the body that source reads (a request, a multipart part) to
    path, safely on flash; the number of bytes written.

    The data goes to path + ".part" first, which replaces path only once it
    is complete: a cut connection, a body over the limit or a full filesystem
    leave the previous file as it was and no partial one. A full filesystem
    is HTTPException(507).
    """
    import os

    if isinstance(source, Request):
        source = reader(source)
    temporary = path + ".part"
    saved = False
    file = None
    try:
        file = open(temporary, "wb")
        # One buffer for the whole body, received into and written from:
        # nothing is allocated per piece. 2K (each piece costs a wait on the
        # socket and a write: 512-byte pieces took 6x longer on the unix
        # port), or less on a heap without a 2K block.
        size = _CHUNK
        while True:
            try:
                view = memoryview(bytearray(size))
                break
            except MemoryError:
                size >>= 2
                if size < 128:
                    raise
        written = 0
        while True:
            count = await source.readinto(view)
            if not count:
                break
            done = file.write(view[:count] if count < len(view) else view)
            if done is not None and done < count:
                raise OSError(_ENOSPC)  # a short write: the filesystem is full
            written += count
        file.close()  # what is still buffered is written (or found not to fit) here
        file = None
        try:
            os.rename(temporary, path)
        except OSError:
            # FAT will not rename over an existing file (littlefs and
            # POSIX replace it): the old one goes first.
            os.remove(path)
            os.rename(temporary, path)
        saved = True
        return written
    except OSError as exc:
        if exc.args and exc.args[0] == _ENOSPC:
            raise HTTPException(507)
        raise
    finally:
        if not saved:
            if file is not None:
                try:
                    file.close()
                except OSError:
                    pass
            try:
                os.remove(temporary)
            except OSError:
                pass


Request._reader = None  # the body's reader, once streamed or read in pieces
Request.stream = _stream
Request.read = _read
