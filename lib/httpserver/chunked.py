# Request bodies in the chunked transfer coding (RFC 9112 7.1). Few
# clients send them, so this loads (and costs heap) with the first one.
import gc

from .protocol import HEX_DIGITS, bad_request, has_control, is_token
from .response import HTTPException

_MAX_CHUNK_SIZE_DIGITS = 8
_MAX_CHUNK_LINE = 256
# Heap a read needs (MicroPython reads 512 bytes and may grow the buffer by
# as much): held free while a body is kept.
_ROOM = 1536


def check_transfer_coding(coding, length, version):
    """Refuse a Transfer-Encoding we cannot take: the body is chunked only
    when chunked is its last and only coding (RFC 9112 6.1), and never with
    a Content-Length or from an HTTP/1.0 client (both smuggling vectors)."""
    if length is not None:
        raise bad_request("Content-Length with Transfer-Encoding")
    if version == "HTTP/1.0":
        raise bad_request("Transfer-Encoding in HTTP/1.0")
    if coding and max(coding) >= "\x80":
        # Compared as ASCII: no other letter may pass for a "k".
        raise bad_request("invalid Transfer-Encoding")
    codings = coding.lower().split(",")
    if codings.pop().strip(" \t") != "chunked":
        raise HTTPException(501, "unsupported transfer coding")
    for other in codings:
        # chunked applied twice, or a coding we cannot undo under it.
        if other.strip(" \t") == "chunked":
            raise bad_request("chunked applied more than once")
    if codings:
        raise HTTPException(501, "unsupported transfer coding")


def parse_chunk_size(line):
    """Size of the chunk announced by a chunk-size line; its extensions are
    checked against the grammar (RFC 9112 7.1.1) and then ignored."""
    digits = 0
    while digits < len(line) and line[digits] in HEX_DIGITS:
        digits += 1
    if not digits or digits > _MAX_CHUNK_SIZE_DIGITS:
        raise bad_request("invalid chunk size")
    if digits < len(line) and not _valid_extensions(line, digits):
        raise bad_request("invalid chunk extension")
    size = 0
    for i in range(digits):
        c = line[i]
        size = size * 16 + (c - 48 if c < 58 else (c | 32) - 87)
    return size


def _valid_extensions(line, i):
    """Whether line[i:] is chunk-ext:
    *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val token / quoted-string."""
    end = len(line)
    while i < end:
        i = _skip_blanks(line, i)
        if i == end or line[i] != 59:  # ";"
            return False
        i = _skip_token(line, _skip_blanks(line, i + 1))
        if i < 0:
            return False
        after = _skip_blanks(line, i)
        if after < end and line[after] == 61:  # "="
            i = _skip_blanks(line, after + 1)
            i = _skip_quoted(line, i) if i < end and line[i] == 34 else _skip_token(line, i)
            if i < 0:
                return False
    return True


def _skip_blanks(line, i):
    while i < len(line) and line[i] in b" \t":
        i += 1
    return i


def _skip_token(line, i):
    """Index after the token that starts at i, or -1 when none does."""
    end = i
    while end < len(line) and line[end] not in b" \t;=":
        end += 1
    return end if is_token(line[i:end]) else -1


def _skip_quoted(line, i):
    """Index after the quoted-string that starts at i, or -1 if it does not
    end on this line or holds a control byte (RFC 9110 5.6.4)."""
    i += 1
    while i < len(line):
        c = line[i]
        if c == 34:  # the closing '"'
            return i + 1
        if c == 92:  # "\": quoted-pair, any byte but a control
            i += 1
            if i == len(line):
                return -1
            c = line[i]
        if (c < 32 and c != 9) or c == 127:
            return -1
        i += 1
    return -1


def check_trailer(line):
    """A trailer field is a header field; it is checked and then ignored."""
    colon = line.find(b":")
    if colon <= 0 or not is_token(line[:colon]) or has_control(line[colon + 1 :]):
        raise bad_request("malformed trailer field")


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
            size = parse_chunk_size(await body.line(_MAX_CHUNK_LINE, 400))
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
