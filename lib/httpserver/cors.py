"""CORS: answers preflight requests and adds the Access-Control headers.

    from httpserver.cors import cors

    cors(app, origins=["https://dashboard.example"], credentials=True)

An origin is allowed only when it is in origins exactly (scheme, host and
port, as the browser sends it), or origins is "*" (then credentials must
stay off: an arbitrary origin is never given credentialed access).
"""

from .response import Response

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _join(values):
    return values if isinstance(values, str) else ", ".join(values)


class CORS:
    def __init__(
        self,
        origins="*",
        methods=_METHODS,
        headers=None,
        credentials=False,
        max_age=None,
        expose_headers=None,
    ):
        if origins == "*" and credentials:
            raise ValueError("CORS with credentials needs a list of origins, not '*'")
        self.origins = origins if origins == "*" else tuple(o.rstrip("/") for o in origins)
        self.methods = _join(methods)
        self.headers = None if headers is None else _join(headers)
        self.credentials = credentials
        self.max_age = max_age
        self.expose_headers = None if expose_headers is None else _join(expose_headers)

    def allowed(self, origin):
        return origin is not None and (self.origins == "*" or origin in self.origins)

    def _allow_origin(self, headers, origin):
        if self.origins == "*":
            headers["Access-Control-Allow-Origin"] = "*"
            return
        headers["Access-Control-Allow-Origin"] = origin
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        # The answer depends on the Origin: caches must keep one per origin.
        vary = headers.get("Vary")
        headers["Vary"] = vary + ", Origin" if vary and "origin" not in vary.lower() else "Origin"

    def preflight(self, request):
        """The answer to a preflight OPTIONS request (None for any other request)."""
        if request.method != "OPTIONS":
            return None
        wanted = request.headers.get("access-control-request-method")
        origin = request.headers.get("origin")
        if wanted is None or origin is None:
            return None
        if not self.allowed(origin):
            return Response("CORS origin not allowed\n", 403)
        response = Response(b"", 204)
        headers = response.headers
        self._allow_origin(headers, origin)
        headers["Access-Control-Allow-Methods"] = self.methods
        requested = request.headers.get("access-control-request-headers")
        allowed_headers = self.headers if self.headers is not None else requested
        if allowed_headers:
            headers["Access-Control-Allow-Headers"] = allowed_headers
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return response

    def add_headers(self, request, response):
        """Mark a response to an allowed origin as readable by that origin."""
        origin = request.headers.get("origin")
        if not self.allowed(origin) or "Access-Control-Allow-Origin" in response.headers:
            return None
        self._allow_origin(response.headers, origin)
        if self.expose_headers:
            response.headers["Access-Control-Expose-Headers"] = self.expose_headers
        return None

    def install(self, app):
        app.before_request(self.preflight)
        app.after_request(self.add_headers)
        return self


def cors(app, origins="*", **options):
    """Make app answer CORS preflights and add the headers; returns the CORS."""
    return CORS(origins, **options).install(app)
