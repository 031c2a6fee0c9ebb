# request.form(): the body's fields, urlencoded or multipart/form-data; and
# urlencode(), the same encoding for a client (the test client, VSHS).
# Loaded with the first call, so that the multipart parser costs heap only
# when a multipart body comes.
from .protocol import parse_query


def form(request):
    if request.headers.get("content-type", "")[:10].lower() == "multipart/":
        from .multipart import form

        return form(request)
    return parse_query(request.body)


def urlencode(pairs):
    """The application/x-www-form-urlencoded text of (name, value) pairs, as
    a browser's form sends it (what parse_query reads back): unreserved
    bytes as they are, a space as +, the rest as %XX."""
    return "&".join(
        quote(str(name), b"-._~", True).decode() + "=" + quote(str(value), b"-._~", True).decode()
        for name, value in pairs
    )


def quote(text, safe, plus=False):
    """text percent-encoded byte by byte, as a bytearray: ASCII letters and
    digits and the bytes in safe as they are; with plus, a space as +.

    Compared as bytes (str.isdigit() also takes "²" and its kin), and built
    in a bytearray: a loop over str, or chr() of each byte, would make each
    character an object, which MicroPython also interns for good.
    """
    out = bytearray()
    for byte in text.encode():
        if 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122 or byte in safe:
            out.append(byte)
        elif byte == 32 and plus:
            out.append(43)
        else:
            out += b"%%%02X" % byte
    return out
