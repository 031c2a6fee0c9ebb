# Request bodies in the chunked transfer coding (RFC 9112 7.1). Few
# clients send them, so this loads (and costs heap) with the first one.
from . import runtime
from .errors import HTTPException
from .protocol import HEX_DIGITS, bad_request, has_control, is_token

_MAX_CHUNK_SIZE_DIGITS = 8


def parse_chunk_size(line):
    """Size of the chunk announced by a chunk-size line (extensions ignored)."""
    semicolon = line.find(b";")
    if semicolon >= 0:
        if has_control(line[semicolon:]):
            raise bad_request("invalid chunk extension")
        line = line[:semicolon].rstrip(b" \t")
    if not line or len(line) > _MAX_CHUNK_SIZE_DIGITS:
        raise bad_request("invalid chunk size")
    for c in line:
        if c not in HEX_DIGITS:
            raise bad_request("invalid chunk size")
    return int(line, 16)


def check_trailer(line):
    """A trailer field is a header field; it is checked and then ignored."""
    colon = line.find(b":")
    if colon <= 0 or not is_token(line[:colon]) or has_control(line[colon + 1 :]):
        raise bad_request("malformed trailer field")


async def read_chunked(conn, max_body_size, max_head_size):
    """The decoded body; the trailer fields are checked and dropped."""
    chunks = []
    total = 0
    while True:
        size = parse_chunk_size(await _read_line(conn, 256, 400))
        if size == 0:
            break
        total += size
        if total > max_body_size:
            raise HTTPException(413)
        data = await conn.read_exact(size + 2)
        if data[-2:] != b"\r\n":
            raise HTTPException(400, "chunk not followed by CRLF")
        chunks.append(data[:-2])
    trailer_bytes = 0
    while True:
        line = await _read_line(conn, max_head_size, 431)
        if not line:
            break
        trailer_bytes += len(line)
        if trailer_bytes > max_head_size:
            raise HTTPException(431)
        check_trailer(line)
    return b"".join(chunks)


async def _read_line(conn, limit, status):
    """The next line without its CRLF; HTTPException(status) past limit."""
    while True:
        end = conn.buffer.find(b"\r\n")
        # +1: a line at the limit may wait for the \n of its CRLF.
        if end > limit or (end < 0 and len(conn.buffer) > limit + 1):
            raise HTTPException(status, "line too long")
        if end >= 0:
            line = conn.buffer[:end]
            conn.buffer = conn.buffer[end + 2 :]
            return line
        await runtime.fill(conn)
