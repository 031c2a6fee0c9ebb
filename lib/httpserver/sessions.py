"""Signed cookie sessions: request.session, a dict kept in the client's cookie.

    from httpserver.sessions import sessions

    sessions(app, secret_key="a long random string")

    @app.get("/count")
    def count(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return {"n": request.session["n"]}

The cookie holds the JSON data and an HMAC-SHA256 signature, so the client
can read it but not change it: keep secrets out of a session. A cookie that
was tampered with, signed with another key or has expired gives an empty
session, never an error.
"""

import json
import time
from binascii import a2b_base64, b2a_base64

from .signing import Signer, compare_digest


class Session:
    """The session data, used like a dict; any change marks it to be saved.

    Not a dict subclass: MicroPython's dict methods do not call overrides.
    data is the plain dict (for JSON, say).
    """

    def __init__(self, data):
        self.data = data
        self.modified = False

    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        self.modified = True
        self.data[key] = value

    def __delitem__(self, key):
        self.modified = True
        del self.data[key]

    def __contains__(self, key):
        return key in self.data

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)

    def get(self, key, default=None):
        return self.data.get(key, default)

    def keys(self):
        return self.data.keys()

    def items(self):
        return self.data.items()

    def values(self):
        return self.data.values()

    def pop(self, key, *default):
        self.modified = True
        return self.data.pop(key, *default)

    def setdefault(self, key, default=None):
        if key not in self.data:
            self[key] = default
        return self.data[key]

    def update(self, *args, **kwargs):
        self.modified = True
        self.data.update(*args, **kwargs)

    def clear(self):
        self.modified = True
        self.data.clear()


def _encode64(data):
    text = b2a_base64(data).strip().rstrip(b"=")
    return text.replace(b"+", b"-").replace(b"/", b"_")


def _decode64(text):
    text = text.replace(b"-", b"+").replace(b"_", b"/")
    return a2b_base64(text + b"=" * (-len(text) % 4))


class Sessions:
    """Loads request.session before each request and saves it after, when changed."""

    def __init__(
        self,
        secret_key,
        cookie_name="session",
        max_age=86400,
        path="/",
        secure=False,
        samesite="Lax",
    ):
        if not secret_key:
            raise ValueError("sessions need a secret_key")
        self._signer = Signer(secret_key)
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.path = path
        self.secure = secure
        self.samesite = samesite

    def encode(self, data, expires=None):
        """The signed cookie value for data (a dict), valid until expires."""
        if expires is None:
            expires = int(time.time()) + self.max_age
        payload = _encode64(json.dumps([expires, data]).encode())
        return (payload + b"." + _encode64(self._signer.digest(payload))).decode()

    def decode(self, value):
        """The data a cookie value holds, or {} when it is forged or expired."""
        try:
            payload, _, signature = value.encode().partition(b".")
            if not compare_digest(_decode64(signature), self._signer.digest(payload)):
                return {}
            expires, data = json.loads(_decode64(payload))
            if expires < time.time() or not isinstance(data, dict):
                return {}
            return data
        except MemoryError:
            raise
        except Exception:
            return {}

    def load(self, request):
        value = request.cookies.get(self.cookie_name)
        request.session = Session(self.decode(value) if value else {})

    def save(self, request, response):
        session = getattr(request, "session", None)
        if session is None or not session.modified:
            return
        if session:
            value = self.encode(session.data)
            if len(value) > 4000:
                # Browsers drop a cookie over 4 KB without a word: fail here instead.
                raise ValueError("session data too large for a cookie (%d bytes)" % len(value))
            response.set_cookie(
                self.cookie_name,
                value,
                max_age=self.max_age,
                path=self.path,
                secure=self.secure,
                httponly=True,
                samesite=self.samesite,
            )
        else:
            response.delete_cookie(self.cookie_name, path=self.path)

    def install(self, app):
        app.before_request(self.load)
        app.after_request(self.save)
        return self


def sessions(app, secret_key, **options):
    """Give every request of app a request.session; returns the Sessions."""
    return Sessions(secret_key, **options).install(app)
