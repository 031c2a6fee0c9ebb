# Sans-IO HTTP/1.1 message syntax (RFC 9112): pure functions over bytes.
# Nothing here reads or writes a socket, so the same code serves both
# runtimes and can be tested in-process.
from .errors import HTTPException
from .routing import is_digits

HEX_DIGITS = b"0123456789abcdefABCDEF"
# RFC 9110 5.6.2 token characters besides letters and digits.
_TOKEN_PUNCTUATION = b"!#$%&'*+-.^_`|~"


def bad_request(message):
    return HTTPException(400, message)


def is_token(data):
    if not data:
        return False
    for c in data:
        if not (97 <= c <= 122 or 65 <= c <= 90 or 48 <= c <= 57 or c in _TOKEN_PUNCTUATION):
            return False
    return True


def has_control(value):
    # min()/max() run in C on both runtimes; the slow scan only runs when a
    # byte below 0x20 is present, to let horizontal tab through.
    if not value:
        return False
    if 127 in value:
        return True
    if min(value) >= 32:
        return False
    for c in value:
        if c < 32 and c != 9:
            return True
    return False


def decode(data):
    """Strict UTF-8 to str; anything else is a 400.

    MicroPython's decoder lets overlong forms and surrogates through, so the
    lead bytes that start them are checked here on both runtimes.
    """
    try:
        text = data.decode()
    except UnicodeError:
        raise bad_request("invalid UTF-8")
    if data and max(data) >= 0xC0:
        previous = 0
        for byte in data:
            if (
                byte in (0xC0, 0xC1)
                or byte >= 0xF5
                or (previous == 0xE0 and byte < 0xA0)
                or (previous == 0xED and byte >= 0xA0)
                or (previous == 0xF0 and byte < 0x90)
                or (previous == 0xF4 and byte >= 0x90)
            ):
                raise bad_request("invalid UTF-8")
            previous = byte
    return text


def parse_head(head, max_headers, headers=None):
    """Parse a request head (without the final CRLF CRLF).

    Returns (method, target, version, headers) where method, target and
    version are str and headers (a new dict, or the mapping given) holds
    lowercase names to values, with repeated fields combined as RFC 9110 5.3
    says. Raises HTTPException with the status the client should get.
    """
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise bad_request("malformed request line")
    method, target, version = parts
    if not is_token(method):
        raise bad_request("invalid method")
    if not target or has_control(target) or b"#" in target or b"\t" in target:
        raise bad_request("invalid request target")
    if version != b"HTTP/1.1" and version != b"HTTP/1.0":
        if (
            len(version) == 8
            and version[:5] == b"HTTP/"
            and version[5] in b"0123456789"
            and version[6] == 46
            and version[7] in b"0123456789"
        ):
            raise HTTPException(505)
        raise bad_request("invalid HTTP version")
    if len(lines) - 1 > max_headers:
        raise HTTPException(431, "too many header fields")
    if headers is None:
        headers = {}
    for line in lines[1:]:
        colon = line.find(b":")
        if colon <= 0:
            raise bad_request("malformed header field")
        name = line[:colon]
        value = line[colon + 1 :].strip(b" \t")
        if not is_token(name):
            # Covers obs-fold, whitespace before the colon and stray bytes.
            raise bad_request("invalid header field name")
        if has_control(value):
            raise bad_request("invalid header field value")
        key = name.decode().lower()
        text = decode(value)
        if key in headers:
            if key == "content-length" and headers[key] != text:
                raise bad_request("conflicting Content-Length")
            if key in ("content-length", "host"):
                if key == "host":
                    raise bad_request("repeated Host")
                continue
            text = headers[key] + ("; " if key == "cookie" else ", ") + text
        headers[key] = text
    host = headers.get("host")
    if host is None:
        if version == b"HTTP/1.1":
            raise bad_request("missing Host")
    else:
        for c in " \t/@\\":
            if c in host:
                raise bad_request("invalid Host")
    return method.decode(), decode(target), version.decode(), headers


def body_framing(headers, version):
    """Decide how the request body is delimited.

    Returns an int (Content-Length, 0 when there is no body) or None for a
    chunked body; rejects the ambiguous combinations used for smuggling.
    """
    coding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if coding is not None:
        if length is not None:
            raise bad_request("Content-Length with Transfer-Encoding")
        if version == "HTTP/1.0":
            raise bad_request("Transfer-Encoding in HTTP/1.0")
        codings = [c.strip().lower() for c in coding.split(",")]
        if codings[-1] != "chunked":
            raise HTTPException(501, "unsupported transfer coding")
        if len(codings) > 1:
            # chunked applied twice, or a coding we cannot undo under it.
            if "chunked" in codings[:-1]:
                raise bad_request("chunked applied more than once")
            raise HTTPException(501, "unsupported transfer coding")
        return None
    if length is None:
        return 0
    if not is_digits(length):
        raise bad_request("invalid Content-Length")
    if len(length) > 15:
        raise HTTPException(413)
    return int(length)


def wants_keep_alive(version, connection):
    """Whether the client asked to keep the connection open after this exchange."""
    if connection:
        connection = connection.lower()
        if "close" in connection:
            return False
        if "keep-alive" in connection:
            return True
    return version == "HTTP/1.1"


def unquote(data, plus=False):
    """Percent-decode bytes to str; malformed escapes or UTF-8 give 400."""
    if plus:
        data = data.replace(b"+", b" ")
    if b"%" in data:
        pieces = data.split(b"%")
        out = bytearray(pieces[0])
        for piece in pieces[1:]:
            if len(piece) < 2 or piece[0] not in HEX_DIGITS or piece[1] not in HEX_DIGITS:
                raise bad_request("invalid percent-encoding")
            out.append(int(piece[:2], 16))
            out += piece[2:]
        data = bytes(out)
    return decode(data)


def split_target(target):
    """Split a request target into (decoded path, raw query string)."""
    if not target.startswith("/"):
        if target == "*":
            return "*", ""
        # absolute-form (RFC 9112 3.2.2): keep only the path and query.
        scheme = target.find("://")
        if scheme <= 0:
            raise bad_request("invalid request target")
        slash = target.find("/", scheme + 3)
        target = target[slash:] if slash >= 0 else "/"
    query = ""
    mark = target.find("?")
    if mark >= 0:
        query = target[mark + 1 :]
        target = target[:mark]
    return unquote(target.encode()), query


def parse_query(query):
    """Parse an application/x-www-form-urlencoded string to a dict of lists."""
    params = {}
    if isinstance(query, str):
        query = query.encode()
    for pair in query.split(b"&"):
        if not pair:
            continue
        eq = pair.find(b"=")
        if eq >= 0:
            key, value = unquote(pair[:eq], True), unquote(pair[eq + 1 :], True)
        else:
            key, value = unquote(pair, True), ""
        if key in params:
            params[key].append(value)
        else:
            params[key] = [value]
    return params


# One string rather than a dict: a table of objects costs a board about 2K.
_REASONS = (
    "|100 Continue|101 Switching Protocols|200 OK|201 Created|202 Accepted"
    "|204 No Content|206 Partial Content"
    "|301 Moved Permanently|302 Found|303 See Other|304 Not Modified"
    "|307 Temporary Redirect|308 Permanent Redirect|400 Bad Request"
    "|401 Unauthorized|403 Forbidden|404 Not Found|405 Method Not Allowed"
    "|406 Not Acceptable|408 Request Timeout|409 Conflict|410 Gone"
    "|411 Length Required|413 Content Too Large|414 URI Too Long"
    "|415 Unsupported Media Type|417 Expectation Failed|418 I'm a teapot"
    "|422 Unprocessable Content|426 Upgrade Required|429 Too Many Requests"
    "|431 Request Header Fields Too Large|500 Internal Server Error"
    "|501 Not Implemented|502 Bad Gateway|503 Service Unavailable"
    "|505 HTTP Version Not Supported|"
)


def reason(status):
    """The reason phrase for a status code ("" for an unusual one)."""
    if status == 200:
        return "OK"
    start = _REASONS.find("|%d " % status)
    if start < 0:
        return ""
    return _REASONS[start + 5 : _REASONS.find("|", start + 1)]


# The connection decides how a message is framed; a handler's own values for
# these would contradict it.
_FRAMING_FIELDS = ("content-length", "transfer-encoding")


def _field(name, value):
    value = str(value)
    if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
        raise ValueError("line break in response header " + name)
    return "%s: %s\r\n" % (name, value)


def encode_head(status, headers, extra=""):
    """Status line and header fields of a response, ending with the blank line.

    extra holds the framing fields the connection adds, already formatted.
    """
    lines = ["HTTP/1.1 %d %s\r\n" % (status, reason(status))]
    for name, value in headers.items():
        if name.lower() in _FRAMING_FIELDS:
            continue
        if isinstance(value, list):
            # Several fields of one name (Set-Cookie): one line each.
            for item in value:
                lines.append(_field(name, item))
        else:
            lines.append(_field(name, value))
    lines.append(extra)
    lines.append("\r\n")
    return "".join(lines).encode()
