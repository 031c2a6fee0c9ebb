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
    return "&".join(_quote(name) + "=" + _quote(value) for name, value in pairs)


def _quote(text):
    out = []
    for byte in str(text).encode():
        # Compared as bytes: str.isdigit() also takes "²" (0xB2) and its kin.
        if 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122 or byte in b"-._~":
            out.append(chr(byte))
        elif byte == 32:
            out.append("+")
        else:
            out.append("%%%02X" % byte)
    return "".join(out)
