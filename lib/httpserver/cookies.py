"""Cookies: request.cookies and response.set_cookie()/delete_cookie().

Loaded on first use of either, so an app without cookies pays nothing.
"""

import time

from .protocol import is_token

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SAMESITE = ("Strict", "Lax", "None")


def _is_cookie_value(value):
    # RFC 6265 4.1.1 cookie-octet: visible ASCII but DQUOTE , ; and backslash.
    for char in value:
        code = ord(char)
        if code < 0x21 or code > 0x7E or char in '",;\\':
            return False
    return True


def parse_cookies(header):
    """The name -> value pairs of a Cookie header; malformed pairs are skipped."""
    cookies = {}
    for pair in header.split(";"):
        name, equals, value = pair.partition("=")
        name = name.strip()
        value = value.strip()
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if not equals or not name or name in cookies:
            continue
        if is_token(name.encode()) and _is_cookie_value(value):
            cookies[name] = value
    return cookies


def request_cookies(request):
    """request.cookies: parsed once per request, {} without a Cookie header."""
    cookies = getattr(request, "_cookies", None)
    if cookies is None:
        cookies = request._cookies = parse_cookies(request.headers.get("cookie", ""))
    return cookies


def http_date(seconds):
    """seconds since the epoch as an HTTP date (IMF-fixdate, RFC 9110 5.6.7)."""
    year, month, day, hour, minute, second, weekday = time.gmtime(int(seconds))[:7]
    return "%s, %02d %s %d %02d:%02d:%02d GMT" % (
        _DAYS[weekday],
        day,
        _MONTHS[month - 1],
        year,
        hour,
        minute,
        second,
    )


def set_cookie(
    response,
    name: str,
    value: str = "",
    max_age: "int | None" = None,
    expires: "int | float | str | None" = None,
    path: "str | None" = "/",
    domain: "str | None" = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: "str | None" = None,
) -> None:
    """Add a Set-Cookie field to response; a cookie set twice keeps the last value.

    expires is seconds since the epoch or a ready HTTP date; prefer max_age on
    a board whose clock may not be set.
    """
    value = str(value)
    if not is_token(name.encode()):
        raise ValueError("invalid cookie name %r" % name)
    if not _is_cookie_value(value):
        raise ValueError("invalid characters in the value of cookie " + name)
    parts = [name + "=" + value]
    if max_age is not None:
        parts.append("Max-Age=%d" % max_age)
    if expires is not None:
        parts.append("Expires=" + (expires if isinstance(expires, str) else http_date(expires)))
    for attribute, text in (("Path", path), ("Domain", domain)):
        if text:
            if ";" in text or "\r" in text or "\n" in text:
                raise ValueError("invalid %s for cookie %s" % (attribute, name))
            parts.append(attribute + "=" + text)
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        samesite = samesite[:1].upper() + samesite[1:].lower()
        if samesite not in _SAMESITE:
            raise ValueError("samesite is Strict, Lax or None")
        parts.append("SameSite=" + samesite)
    _add_field(response.headers, name, "; ".join(parts))


def delete_cookie(
    response, name: str, path: "str | None" = "/", domain: "str | None" = None
) -> None:
    """Tell the client to drop cookie name (path and domain as it was set)."""
    set_cookie(response, name, "", max_age=0, expires=0, path=path, domain=domain)


def _add_field(headers, name, field):
    fields = []
    for key in list(headers):
        if key.lower() == "set-cookie":
            value = headers.pop(key)
            fields.extend(value if isinstance(value, list) else [value])
    prefix = name + "="
    fields = [f for f in fields if not f.startswith(prefix)]
    fields.append(field)
    headers["Set-Cookie"] = fields
