import json


class Headers(dict):
    """Request header fields: keys are stored lowercase, lookups ignore case."""

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def __contains__(self, name):
        return super().get(name.lower(), Headers) is not Headers


class Request:
    """A parsed HTTP request, passed as the first argument to every handler."""

    # Set on first use; until then the class's values stand in (an attribute
    # an instance holds costs heap on a board).
    _query_params = None
    _json = None  # the parsed body, once json() has been asked
    _json_read = False

    def __init__(
        self,
        app,
        method,
        path,
        query_string,
        headers,
        body=b"",
        client_addr=None,
        version="HTTP/1.1",
        scheme="http",
    ):
        self.app = app
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.client_addr = client_addr
        self.http_version = version
        self.scheme = scheme
        self.path_params = {}

    @property
    def query_params(self):
        # Parsed on first use: most handlers never look at the query.
        if self._query_params is None:
            from .protocol import parse_query

            params = self._query_params = parse_query(self.query_string)
            # A blank value (a=&b) is left out, as urllib.parse.parse_qs does.
            for name in list(params):
                values = params[name]
                while "" in values:
                    values.remove("")
                if not values:
                    del params[name]
        return self._query_params

    @property
    def cookies(self):
        """The request's cookies as a dict (parsed on first use)."""
        from .cookies import request_cookies

        return request_cookies(self)

    def text(self):
        """The body decoded as UTF-8; InvalidBody (a ValueError, 400) when it is not."""
        try:
            return self.body.decode()
        except UnicodeError:
            from .failures import InvalidBody  # loads with the first such body

            raise InvalidBody("request body is not valid UTF-8")

    def json(self):
        """The body parsed as JSON (None when empty).

        Invalid JSON raises InvalidBody: a ValueError, as json's own error
        is, which answers 400 when the handler does not catch it.
        """
        if not self._json_read:
            if self.body:
                try:
                    self._json = json.loads(self.text())
                except (ValueError, RuntimeError):
                    # RuntimeError: nesting deeper than the parser's recursion limit.
                    from .failures import InvalidBody

                    raise InvalidBody("request body is not valid JSON")
            self._json_read = True
        return self._json

    def form(self):
        """The body's form fields as a dict of lists of str: urlencoded, or
        multipart/form-data's fields (its files: multipart.parts)."""
        from .forms import form

        return form(self)
