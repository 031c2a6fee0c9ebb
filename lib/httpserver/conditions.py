# Conditional and range requests for files (RFC 9110 13 and 14): a 304 for
# a client whose copy is current, a 206 or 416 for a single byte range.
# Loaded by files.conditional when a request first carries a validator or a
# Range: a first visit needs none of it, and on a board every line of loaded
# code costs heap.
from .response import Response
from .routing import is_digits
from .runtime import const

_MONTHS = const("JanFebMarAprMayJunJulAugSepOctNovDec")


def _parse_date(text):
    """(year, month, day, hour, minute, second) of an HTTP-date, else None.

    All three formats are read, as RFC 9110 5.6.7 requires: IMF-fixdate
    (Sun, 06 Nov 1994 08:49:37 GMT), rfc850 (Sunday, 06-Nov-94 08:49:37 GMT)
    and asctime (Sun Nov  6 08:49:37 1994). A date that cannot be read is
    ignored, which costs a full answer, never a wrong 304.
    """
    parts = text.replace(":", " ").replace("-", " ").split()
    if len(parts) == 7:  # asctime: the day after the month, the year last, no zone
        parts = [parts[0], parts[2], parts[1], parts[6], parts[3], parts[4], parts[5], "GMT"]
    if len(parts) != 8 or parts[7] != "GMT" or len(parts[2]) != 3:
        return None
    month = _MONTHS.find(parts[2])
    if month % 3:  # -1 % 3 is 2: not a month
        return None
    try:
        numbers = [int(parts[i]) for i in (3, 1, 4, 5, 6)]
    except ValueError:
        return None
    if numbers[0] < 100:  # rfc850's two digits: the century that is not far ahead
        numbers[0] += 1900 if numbers[0] >= 70 else 2000
    return (numbers[0], month // 3 + 1) + tuple(numbers[1:])


def _parse_range(field, size):
    """(first, last) byte of a single range, first >= size when it cannot be
    satisfied; None for several ranges or a malformed field, which are
    ignored (RFC 9110 14.2 allows it): the whole file is sent."""
    unit, _, spec = field.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or not (first or last):
        return None
    for number in (first, last):
        # Digits only; "," (several ranges) is not one.
        if number and (not is_digits(number) or len(number) > 15):
            return None
    if not first:  # the last N bytes; a suffix of 0 bytes cannot be satisfied
        suffix = int(last)
        return (max(size - suffix, 0) if suffix else size), size - 1
    first = int(first)
    if not last:
        return first, size - 1
    if int(last) < first:
        return None
    return first, min(int(last), size - 1)


def _is_fresh(headers, response):
    """Whether the client's copy is current: If-None-Match, else If-Modified-Since."""
    tags = headers.get("if-none-match")
    if tags is not None:
        # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
        for tag in tags.split(","):
            tag = tag.strip()
            if tag == "*" or tag == response.etag or tag == "W/" + response.etag:
                return True
        return False
    # If-Modified-Since counts only without If-None-Match (RFC 9110 13.2.2).
    since = headers.get("if-modified-since")
    date = since and response.modified and _parse_date(since)
    return bool(date) and response.modified <= date


def answer(request, response):
    """files.conditional's answer to a request that carries a validator or a Range."""
    method = request.method
    if response.status_code != 200 or method not in ("GET", "HEAD"):
        return response
    headers = request.headers
    if _is_fresh(headers, response):
        # A 304 keeps the fields that update a cache (RFC 9110 15.4.5), no body.
        kept = {}
        for name in ("ETag", "Cache-Control", "Vary"):
            if name in response.headers:
                kept[name] = response.headers[name]
        return Response(b"", 304, kept)
    field = headers.get("range")
    # Only GET has ranges (RFC 9110 14.2); a gzip variant is never cut into
    # ranges (StaticFiles sends the plain file when a Range comes).
    if field is None or method != "GET" or "Content-Encoding" in response.headers:
        return response
    # If-Range: the ETag (strong comparison, so no W/) or the very
    # Last-Modified date; otherwise the file has changed: all of it.
    if_range = headers.get("if-range")
    if if_range is not None and if_range not in (
        response.etag,
        response.headers.get("Last-Modified"),
    ):
        return response
    span = _parse_range(field, response.size)
    if span is None:
        return response
    first, last = span
    if first >= response.size:
        response.status_code = 416
        response.headers["Content-Range"] = "bytes */%d" % response.size
        response.count = 0
    else:
        response.status_code = 206
        response.offset = first
        response.count = last - first + 1
        response.headers["Content-Range"] = "bytes %d-%d/%d" % (first, last, response.size)
    return response
