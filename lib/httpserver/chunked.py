# Request bodies in the chunked transfer coding (RFC 9112 7.1). Few
# clients send them, so this loads (and costs heap) with the first one.
from .errors import HTTPException
from .protocol import HEX_DIGITS, bad_request, has_control, is_token

_MAX_CHUNK_SIZE_DIGITS = 8
_MAX_CHUNK_LINE = 256


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
    return end if is_token(memoryview(line)[i:end]) else -1


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
    bytearray; consumed by replacing it with what remains), await
    conn.fill() appends to it. Each chunk's data is taken from the buffer as
    it arrives, once: a body of one chunk is returned as it was taken, one of
    several is joined once at the end.
    """
    pieces = []
    total = 0
    while True:
        size = parse_chunk_size(await _read_line(conn, _MAX_CHUNK_LINE, 400))
        if size == 0:
            break
        total += size
        if total > max_body_size:
            raise HTTPException(413)  # before its data is read
        while size:
            if not conn.buffer:
                await conn.fill()
            size -= _take(conn, size, pieces)
        await _skip_crlf(conn)
    trailer_bytes = 0
    while True:
        line = await _read_line(conn, max_head_size, 431)
        if not line:
            break
        trailer_bytes += len(line)
        if trailer_bytes > max_head_size:
            raise HTTPException(431)
        check_trailer(line)
    if len(pieces) == 1:
        return pieces[0]
    return b"".join(pieces)


def _take(conn, size, pieces):
    """Move up to size bytes from conn.buffer to pieces; how many were moved."""
    buffer = conn.buffer
    taken = min(size, len(buffer))
    if taken == len(buffer) and isinstance(buffer, bytes):
        pieces.append(buffer)
    else:
        pieces.append(bytes(memoryview(buffer)[:taken]))
    conn.buffer = buffer[taken:]
    return taken


async def _skip_crlf(conn):
    """Consume the CRLF that ends a chunk's data."""
    while True:
        buffer = conn.buffer
        if (buffer and buffer[0] != 13) or (len(buffer) > 1 and buffer[1] != 10):
            raise bad_request("chunk not followed by CRLF")
        if len(buffer) > 1:
            conn.buffer = buffer[2:]
            return
        await conn.fill()


async def _read_line(conn, limit, status):
    """The next line without its CRLF; HTTPException(status) past limit."""
    while True:
        buffer = conn.buffer
        end = buffer.find(b"\r\n")
        # +1: a line at the limit may wait for the \n of its CRLF.
        if end > limit or (end < 0 and len(buffer) > limit + 1):
            raise HTTPException(status, "line too long")
        if end >= 0:
            conn.buffer = buffer[end + 2 :]
            return buffer[:end]
        await conn.fill()
