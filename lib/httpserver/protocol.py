# Sans-IO HTTP/1.1 message syntax (RFC 9112): pure functions over bytes.
# Nothing here reads or writes a socket, so the same code serves both
# runtimes and can be tested in-process.
from .response import HTTPException
from .routing import is_digits
from .runtime import const  # private constants: inlined on MicroPython, no names kept

HEX_DIGITS = b"0123456789abcdefABCDEF"
# Single bytes are searched for by their int values (find(32), not
# find(b" ")): in a .mpy each distinct bytes constant is an object in the
# board's heap for as long as the module is loaded, and a small int is none.

# RFC 9110 5.6.2 token characters.
_TOKEN = const(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

# How a response body is framed (frame_response decides).
NO_BODY = 0  # nothing after the head: HEAD, 1xx, 204, 304, an upgrade
FIXED = 1  # Content-Length bytes
CHUNKED = 2  # Transfer-Encoding: chunked
UNTIL_CLOSE = 3  # raw bytes that the close ends (HTTP/1.0, length unknown)


def bad_request(message):
    return HTTPException(400, message)


def is_token(data):
    """Whether data (bytes or bytearray) is a token. strip() runs in C on
    both runtimes, where a loop over the bytes ran once per byte in Python:
    what it leaves is not a token character."""
    return bool(data) and not data.strip(_TOKEN)


def has_control(value):
    # min()/max() run in C on both runtimes; the slow scan only runs when a
    # byte below 0x20 is present, to let horizontal tab through.
    if not value:
        return False
    if value.find(127) >= 0:  # DEL; `127 in` fails on a MicroPython bytearray
        return True
    if min(value) >= 32:
        return False
    for c in value:
        if c < 32 and c != 9:
            return True
    return False


def decode(data):
    """Strict UTF-8 to str; anything else is a 400."""
    try:
        text = data.decode()
    except UnicodeError:
        raise bad_request("invalid UTF-8")
    if data and max(data) >= 0xC0:
        # Only non-ASCII needs the strict check (MicroPython's decoder is
        # lenient); it loads when first met.
        from .utf8 import is_strict_utf8

        if not is_strict_utf8(data):
            raise bad_request("invalid UTF-8")
    return text


def parse_request_line(data, end):
    """(method, target, version) as str from the request line data[:end]."""
    first = data.find(32, 0, end)  # SP
    second = data.find(32, first + 1, end) if first >= 0 else -1
    if second < 0 or data.find(32, second + 1, end) >= 0:
        raise bad_request("malformed request line")
    method = data[:first]
    if not is_token(method):
        raise bad_request("invalid method")
    target = data[first + 1 : second]
    if not target or has_control(target) or target.find(35) >= 0 or target.find(9) >= 0:
        raise bad_request("invalid request target")
    version = data[second + 1 : end]
    if version != b"HTTP/1.1" and version != b"HTTP/1.0":
        from .unusual import refuse_version  # loaded when met

        refuse_version(version)
    return method.decode(), decode(target), version.decode()


def check_host(headers, version):
    """The head's Host field: required in HTTP/1.1, an authority if present."""
    host = headers.get("host")
    if host is None:
        if version == "HTTP/1.1":
            raise bad_request("missing Host")
    elif not _is_authority(host):
        raise bad_request("invalid Host")


def add_field(headers, head, start, end):
    """Add the field line head[start:end] to headers (RFC 9112 5)."""
    colon = head.find(58, start, end)  # ":"
    if colon <= start:
        raise bad_request("malformed header field")
    name = head[start:colon]
    if not is_token(name):
        # Covers obs-fold, whitespace before the colon and stray bytes.
        raise bad_request("invalid header field name")
    # The value without the whitespace around it, sliced once.
    start = colon + 1
    while start < end and head[start] in b" \t":
        start += 1
    while end > start and head[end - 1] in b" \t":
        end -= 1
    value = head[start:end]
    if value and (min(value) < 32 or max(value) > 126):
        # Not printable ASCII, the common case: a tab, a control byte or UTF-8.
        if has_control(value):
            raise bad_request("invalid header field value")
        text = decode(value)
    else:
        text = value.decode()
    key = name.decode().lower()
    count = len(headers)
    # One dict call, in C on CPython (Headers' own methods are Python's).
    headers.setdefault(key, text)
    if len(headers) == count:
        # Few clients repeat a field: the rules for it load when met.
        from .unusual import combine_field

        headers[key] = combine_field(key, headers[key], text)


def _is_authority(authority):
    """Whether authority is host [":" port] (RFC 3986 3.2.2 and 3.2.3):
    no userinfo or stray delimiter, an IP literal closed, port digits."""
    # No loops over characters: on MicroPython each one would be interned.
    if " " in authority or "\t" in authority or "/" in authority:
        return False
    if "@" in authority or "\\" in authority:
        return False
    close = authority.find("]") + 1  # after an IP literal, else 0
    colon = authority.find(":", close)
    if colon < 0:
        colon = len(authority)
    elif authority[colon + 1 :].strip("0123456789"):
        return False  # the port is digits, or empty
    if authority.startswith("["):
        return 2 < close == colon
    return not close and "[" not in authority


def body_framing(headers, version):
    """Decide how the request body is delimited.

    Returns an int (Content-Length, 0 when there is no body) or None for a
    chunked body; rejects the ambiguous combinations used for smuggling.
    """
    coding = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if coding is not None:
        # Few clients send one: its checks load when first needed.
        from .chunkgrammar import check_transfer_coding

        check_transfer_coding(coding, length, version)
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
        # As ASCII bytes: CPython's str.lower() turns a KELVIN SIGN into "k".
        connection = connection.encode().lower()
        if b"close" in connection:
            return False
        if b"keep-alive" in connection:
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
        from .unusual import origin_form  # loaded when met

        target = origin_form(target)
    query = ""
    mark = target.find("?")
    if mark >= 0:
        query = target[mark + 1 :]
        target = target[:mark]
    # The target is decoded text already: only an escape needs more work.
    return unquote(target.encode()) if "%" in target else target, query


def parse_query(query):
    """Parse an application/x-www-form-urlencoded string to a dict of lists."""
    params = {}
    if isinstance(query, str):
        query = query.encode()
    for pair in query.split(b"&"):
        if not pair:
            continue
        eq = pair.find(61)  # "="
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
# The statuses most answers have, and every one the server answers by itself
# (it may have to on a nearly full heap); the rest are in unusual.py.
_COMMON_REASONS = const(
    "|201 Created|204 No Content|301 Moved Permanently|302 Found|304 Not Modified"
    "|400 Bad Request|404 Not Found|405 Method Not Allowed|408 Request Timeout"
    "|413 Content Too Large|414 URI Too Long|431 Request Header Fields Too Large"
    "|500 Internal Server Error|"
)


def reason(status):
    """The reason phrase for a status code ("" for an unusual one)."""
    if status == 200:
        return "OK"
    table = _COMMON_REASONS
    start = table.find("|%d " % status)
    if start < 0:
        from .unusual import REASONS as table

        start = table.find("|%d " % status)
        if start < 0:
            return ""
    return table[start + 5 : table.find("|", start + 1)]


# Three-letter day names from Monday (weekday 0 of gmtime), then the months.
_DATE_NAMES = const("MonTueWedThuFriSatSunJanFebMarAprMayJunJulAugSepOctNovDec")


def http_date(t):
    """The IMF-fixdate (RFC 9110 5.6.7) of a UTC time tuple as gmtime() gives it:
    (year, month, mday, hour, minute, second, weekday, ...), weekday 0 Monday.
    """
    day = t[6] * 3
    month = t[1] * 3 + 18
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DATE_NAMES[day : day + 3],
        t[2],
        _DATE_NAMES[month : month + 3],
        t[0],
        t[3],
        t[4],
        t[5],
    )


def frame_response(method, version, connection, status, length, upgrade=False, reusable=True):
    """How to frame a response, and whether the connection stays open after it.

    method/version/connection: the request's method, "HTTP/1.1"/"HTTP/1.0", and its Connection
    field (str or None). status: the response status. length: the body size in bytes, or None
    when it is not known in advance (a stream). upgrade: the response takes the connection over
    (101 to a WebSocket). reusable: False when the connection cannot carry another request
    (the request was not read to its end, the server is stopping, the response says close).
    Returns (fields, mode, keep_alive): fields is the framing and Connection header lines to add,
    as one str, each line ending CRLF ("" when none); mode is NO_BODY, FIXED, CHUNKED or
    UNTIL_CLOSE.
    """
    if upgrade:
        return "Connection: Upgrade\r\n", NO_BODY, False
    keep_alive = reusable and wants_keep_alive(version, connection)
    if status < 200 or status == 204 or status == 304:
        fields, mode = "", NO_BODY  # RFC 9110 6.4.1: never any content
    elif length is not None:
        fields, mode = "Content-Length: %d\r\n" % length, FIXED
    elif version == "HTTP/1.1":
        fields, mode = "Transfer-Encoding: chunked\r\n", CHUNKED
    else:
        # An HTTP/1.0 client knows no chunks: the close ends the body.
        fields, mode, keep_alive = "", UNTIL_CLOSE, False
    if not keep_alive:
        fields += "Connection: close\r\n"
    elif version != "HTTP/1.1":
        fields += "Connection: keep-alive\r\n"
    # A HEAD response has the fields a GET would have had (RFC 9110 9.3.2).
    return fields, NO_BODY if method == "HEAD" else mode, keep_alive


def encode_head(status, headers, fields="", date=None, version="HTTP/1.1"):
    """Status line and header fields of a response, ending with the blank line.

    headers are the handler's (a value that is a list or tuple gives one
    field line per item); its Content-Length, Transfer-Encoding and
    Connection are left out, as fields (from frame_response) decides them.
    date is the Date value to send unless the handler set one. Raises
    ValueError for a name that is not a token or a line break in a value.
    """
    lines = [version, " %d " % status, reason(status), "\r\n"]
    for name, value in headers.items():
        # Not iterated per character: on MicroPython that interns each
        # character as a qstr, and the qstr table grows in large steps.
        if not is_token(name.encode()):
            from .unusual import bad_response_field

            bad_response_field(name)
        # Only names of these lengths need a closer look.
        if len(name) in (4, 10, 14, 17):
            lowered = name.lower()  # none of these names has a "k" (see wants_keep_alive)
            if lowered == "date":
                date = None
            elif lowered in ("connection", "content-length", "transfer-encoding"):
                continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            item = str(item)
            if "\n" in item or "\r" in item:
                from .unusual import bad_response_field

                bad_response_field(name, item)
            lines.append("%s: %s\r\n" % (name, item))
    if date is not None:
        lines.append("Date: %s\r\n" % date)
    lines.append(fields)
    lines.append("\r\n")
    return "".join(lines).encode()
