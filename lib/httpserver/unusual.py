# Request syntax that ordinary clients never send, checked when it is met:
# bytes that cannot begin a request, absolute-form targets, HTTP versions
# other than 1.0 and 1.1. Pure functions like protocol.py's, in their own
# module because on a board every line of loaded code costs heap.
from .protocol import _is_authority, bad_request, is_token
from .response import HTTPException


def check_request_start(data):
    """Refuse at once bytes that cannot begin a request.

    data is what has arrived of a request whose head is not complete yet,
    after any empty lines before it; only its first line (to the first
    CRLF, or all of it) is looked at. A control byte or a method that is
    not a token there cannot become a request however long the client goes
    on: raises the 400 now instead of waiting for the rest of the head.
    """
    end = data.find(b"\r\n")
    if end < 0:
        end = len(data)
        if end and data[end - 1] == 13:
            end -= 1  # this CR may begin the line's CRLF
    if not end:
        return
    line = memoryview(data)[:end]
    if min(line) < 32 or data.find(b"\x7f", 0, end) >= 0:
        raise bad_request("malformed request line")
    space = data.find(b" ", 0, end)
    if not is_token(data[: space if space >= 0 else end]):
        raise bad_request("invalid method")


def refuse_version(version):
    """400 for what is not an HTTP version, 505 for one we do not speak."""
    if (
        len(version) == 8
        and version[:5] == b"HTTP/"
        and version[5] in b"0123456789"
        and version[6] == 46
        and version[7] in b"0123456789"
    ):
        raise HTTPException(505)
    raise bad_request("invalid HTTP version")


def origin_form(target):
    """The path and query of an absolute-form target (RFC 9112 3.2.2)."""
    scheme = target.find("://")
    start = scheme + 3
    end = len(target)
    for c in "/?":
        found = target.find(c, start)
        if 0 <= found < end:
            end = found
    # scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), and a host.
    if scheme <= 0 or end == start or target[start] == ":":
        raise bad_request("invalid request target")
    # Checked as bytes: no str made per character.
    for i, c in enumerate(target[:scheme].encode()):
        if not (97 <= c | 32 <= 122 or i and (48 <= c <= 57 or c in b"+-.")):
            raise bad_request("invalid request target")
    if not _is_authority(target[start:end]):
        raise bad_request("invalid request target")
    return target[end:] if target.startswith("/", end) else "/" + target[end:]


def combine_field(key, previous, value):
    """The value of a field that comes again in a head (RFC 9110 5.3): the
    values joined into one list, except for the fields that must be single."""
    if key == "content-length":
        if previous != value:
            raise bad_request("conflicting Content-Length")
        return previous
    if key == "host":
        raise bad_request("repeated Host")
    return previous + ("; " if key == "cookie" else ", ") + value


def bad_response_field(name, value=None):
    """ValueError for a response field a handler set that cannot be sent."""
    if value is None:
        raise ValueError("invalid response header name %r" % name)
    raise ValueError("line break in response header " + name)


# Reason phrases (protocol.reason has the most common ones).
REASONS = (
    "|100 Continue|101 Switching Protocols|200 OK|201 Created|202 Accepted"
    "|204 No Content|206 Partial Content"
    "|301 Moved Permanently|302 Found|303 See Other|304 Not Modified"
    "|307 Temporary Redirect|308 Permanent Redirect|400 Bad Request"
    "|401 Unauthorized|403 Forbidden|404 Not Found|405 Method Not Allowed"
    "|406 Not Acceptable|408 Request Timeout|409 Conflict|410 Gone"
    "|411 Length Required|412 Precondition Failed|413 Content Too Large"
    "|414 URI Too Long|415 Unsupported Media Type|416 Range Not Satisfiable"
    "|417 Expectation Failed|418 I'm a teapot"
    "|422 Unprocessable Content|426 Upgrade Required|429 Too Many Requests"
    "|431 Request Header Fields Too Large|500 Internal Server Error"
    "|501 Not Implemented|502 Bad Gateway|503 Service Unavailable"
    "|504 Gateway Timeout|505 HTTP Version Not Supported|507 Insufficient Storage|"
)
