# A complete request head parsed in one call, for tools and tests that hold
# one. The server takes the same steps (protocol.py's parse_request_line,
# add_field and check_host) line by line as a head arrives, so that it never
# buffers a whole head: this module is not loaded to serve.
from .protocol import add_field, check_host, parse_request_line
from .response import HTTPException


def parse_head(head, max_headers, headers=None):
    """Parse a request head (without the final CRLF CRLF).

    Returns (method, target, version, headers) where method, target and
    version are str and headers (a new dict, or the mapping given) holds
    lowercase names to values, with repeated fields combined as RFC 9110 5.3
    says. Raises HTTPException with the status the client should get.
    """
    size = len(head)
    line_end = head.find(b"\r\n")
    if line_end < 0:
        line_end = size
    method, target, version = parse_request_line(head, line_end)
    # Counted before any field is taken apart, as the server counts them.
    if head.count(b"\r\n", line_end) > max_headers:
        raise HTTPException(431, "too many header fields")
    if headers is None:
        headers = {}
    while line_end < size:
        start = line_end + 2
        line_end = head.find(b"\r\n", start)
        if line_end < 0:
            line_end = size
        add_field(headers, head, start, line_end)
    check_host(headers, version)
    return method, target, version, headers
