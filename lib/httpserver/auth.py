"""HTTP Basic and Bearer authentication, as a decorator or for a whole app.

    from httpserver.auth import BasicAuth

    auth = BasicAuth(users={"admin": "s3cret"})

    @app.get("/admin")
    @auth
    def admin(request):
        return "hello " + request.user

    auth.protect(app)  # or every route, but those in exclude

A request without valid credentials gets 401 with a WWW-Authenticate
challenge; secrets are compared in constant time.
"""

from binascii import a2b_base64

from .response import HTTPException
from .signing import same_secret


class _Auth:
    scheme = ""

    def __init__(self, verify, realm):
        self.verify = verify
        self.realm = realm

    def credentials(self, request):
        """What follows the scheme in the Authorization header, or None."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != self.scheme.lower():
            return None
        return value.strip()

    def challenge(self, error=None):
        text = '%s realm="%s"' % (self.scheme, self.realm)
        if error:
            text += ', error="%s"' % error
        return HTTPException(401, None, {"WWW-Authenticate": text})

    def check(self, request):
        """Set request.user to who is authenticated, or raise 401."""
        user = self.authenticate(request)
        if user is None:
            raise self.challenge()
        request.user = user

    def __call__(self, handler):
        """Decorator: the handler runs only for an authenticated request."""
        from .runtime import call

        async def authenticated(request, **params):
            self.check(request)
            return await call(handler, request, **params)

        return authenticated

    def protect(self, app, exclude=()):
        """Require authentication for every request to app but paths in exclude."""

        def hook(request):
            if request.path not in exclude and request.method != "OPTIONS":
                self.check(request)

        app.before_request(hook)
        return self


class BasicAuth(_Auth):
    """HTTP Basic (RFC 7617): users maps name -> password, or verify(name, password)
    returns a user (anything but None) for valid credentials."""

    scheme = "Basic"

    def __init__(self, users=None, verify=None, realm="httpserver"):
        _Auth.__init__(self, verify, realm)
        self.users = users or {}

    def authenticate(self, request):
        encoded = self.credentials(request)
        if not encoded:
            return None
        try:
            name, colon, password = a2b_base64(encoded).decode().partition(":")
        except (ValueError, UnicodeError):
            return None
        if not colon:
            return None
        if self.verify is not None:
            return self.verify(name, password)
        # The same work for an unknown name as for a known one.
        expected = self.users.get(name)
        matches = same_secret(password, "" if expected is None else expected)
        return name if matches and expected is not None else None


class BearerAuth(_Auth):
    """Bearer tokens (RFC 6750): tokens maps token -> user, or verify(token)
    returns a user (anything but None) for a valid token."""

    scheme = "Bearer"

    def __init__(self, tokens=None, verify=None, realm="httpserver"):
        _Auth.__init__(self, verify, realm)
        self.tokens = tokens or {}

    def authenticate(self, request):
        token = self.credentials(request)
        if not token:
            return None
        if self.verify is not None:
            return self.verify(token)
        found = None
        for known, user in self.tokens.items():
            # Every token is compared, so the time says nothing of which matched.
            if same_secret(token, known):
                found = user
        return found

    def check(self, request):
        user = self.authenticate(request)
        if user is None:
            raise self.challenge("invalid_token" if self.credentials(request) else None)
        request.user = user
