# Request bodies in the chunked transfer coding (RFC 9112 7.1). Few
# clients send them, so this loads (and costs heap) with the first one.
import gc

from .chunkgrammar import MAX_CHUNK_LINE, check_trailer, parse_chunk_size
from .protocol import bad_request
from .response import HTTPException

# Heap a read needs (MicroPython reads 512 bytes and may grow the buffer by
# as much): held free while a body is kept.
_ROOM = 1536


async def read_chunked(conn, max_body_size, max_head_size):
    """The decoded body; the trailer fields are checked and dropped.

    conn.buffer holds what has been received and not yet consumed (bytes or
    bytearray), await conn.fill() appends to it (EOFError at the end); what
    follows the body is left in conn.buffer. A body larger than the heap is
    read to its end and dropped: 413 if it is over max_body_size, else
    MemoryError.
    """
    body = _Body(conn)
    try:
        total = 0
        while True:
            size = parse_chunk_size(await body.line(MAX_CHUNK_LINE, 400))
            if size == 0:
                break
            total += size
            if total > max_body_size:
                raise HTTPException(413)  # before its data is read
            await body.take(size)
            await body.crlf()
        trailer_bytes = 0
        while True:
            line = await body.line(max_head_size, 431)
            if not line:
                break
            trailer_bytes += len(line)
            if trailer_bytes > max_head_size:
                raise HTTPException(431)
            check_trailer(line)
    finally:
        body.give_back()
        if body.pieces is None:
            # The body filled the heap and was dropped: collected before the
            # answer, so that what loads for it (the modules of the error
            # path) fills the space low in the heap. Left to the collector,
            # it landed wherever the last read had, all over a board's heap,
            # and no block of 4K was left for the next client (measured).
            gc.collect()
    return body.result()


class _Body:
    """A chunked body being read from conn.buffer at a position: a line or a
    piece of data is sliced out alone (a read that is all data is kept as
    it is), the rest of the buffer is never copied. While the body is kept,
    room for the next read is checked before each fill: on a full heap the
    body is dropped, never a read half done."""

    def __init__(self, conn):
        self.conn = conn
        self.data = conn.buffer
        self.pos = 0
        self.pieces = []  # None once the body has outgrown the heap

    async def fill(self):
        self.give_back()
        if self.pieces is not None:
            try:
                bytearray(_ROOM)  # the next read must find room:
            except MemoryError:  # better to keep nothing than to fail it
                self.pieces = None
        await self.conn.fill()
        self.data = self.conn.buffer

    def give_back(self):
        """Leave only what has not been consumed in conn.buffer."""
        if self.pos:
            self.conn.buffer = self.data = self.data[self.pos :]
            self.pos = 0

    async def line(self, limit, status):
        """The next line without its CRLF; HTTPException(status) past limit."""
        while True:
            data, pos = self.data, self.pos
            end = data.find(b"\r\n", pos)
            # +1: a line at the limit may wait for the \n of its CRLF.
            if end - pos > limit or (end < 0 and len(data) - pos > limit + 1):
                raise HTTPException(status, "line too long")
            if end >= 0:
                self.pos = end + 2
                return data[pos:end]
            await self.fill()

    async def take(self, size):
        """Copy the next size bytes to the pieces (or drop them)."""
        while size:
            if self.pos == len(self.data):
                await self.fill()
            pos = self.pos
            taken = min(size, len(self.data) - pos)
            if self.pieces is not None:
                try:
                    data = self.data
                    if pos == 0 and taken == len(data) and isinstance(data, bytes):
                        self.pieces.append(data)
                    else:
                        self.pieces.append(bytes(memoryview(data)[pos : pos + taken]))
                except MemoryError:
                    # More than this heap holds: read on and keep nothing,
                    # so that a body over max_body_size still gets its 413.
                    self.pieces = None
            self.pos = pos + taken
            size -= taken

    async def crlf(self):
        """Consume the CRLF that ends a chunk's data."""
        while True:
            data, pos = self.data, self.pos
            if (len(data) > pos and data[pos] != 13) or (
                len(data) > pos + 1 and data[pos + 1] != 10
            ):
                raise bad_request("chunk not followed by CRLF")
            if len(data) > pos + 1:
                self.pos = pos + 2
                return
            await self.fill()

    def result(self):
        pieces = self.pieces
        if pieces is None:
            raise MemoryError  # within max_body_size but not within the heap
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)
