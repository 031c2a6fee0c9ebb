# The chunked transfer coding's grammar (RFC 9112 7.1): the checks of a
# Transfer-Encoding field, a chunk-size line and a trailer field. Apart from
# the whole-body reader (chunked.py), so that a body a handler streams
# (uploads.py) loads only these.
from .protocol import HEX_DIGITS, bad_request, has_control, is_token
from .response import HTTPException

_MAX_CHUNK_SIZE_DIGITS = 8
# Longest chunk-size line taken, extensions included (readers: 400 past it).
MAX_CHUNK_LINE = 256


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
