import json

if False:  # for type checkers only: MicroPython's compiler drops the block
    from collections.abc import Mapping
    from typing import Any, NoReturn

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
BINARY = "application/octet-stream"


class HTTPException(Exception):
    """An error that becomes an HTTP response with the given status.

    Raise it (or call abort) anywhere in a handler or hook. message defaults
    to the status's reason phrase; headers are sent with the error response,
    for example Allow with a 405.
    """

    def __init__(
        self,
        status_code: int,
        message: "str | None" = None,
        headers: "Mapping[str, Any] | None" = None,
    ) -> None:
        if not message:
            # Loaded with the server, so this costs nothing while serving.
            from .protocol import reason

            message = reason(status_code) or "Error"
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


def abort(status_code: int, message: "str | None" = None) -> "NoReturn":
    raise HTTPException(status_code, message)


class Response:
    """An HTTP response as data: a status, header fields and a body source.

    Here the body is bytes of known length. The server (or the ASGI adapter)
    decides the framing and writes it; a subclass only says where its body
    comes from, by content_length() and produce().
    """

    upgrade = False  # the connection is taken over after the head (WebSocket)
    version = "HTTP/1.1"  # of the status line
    headers: "dict[str, Any]"  # a value that is a list or tuple gives a field line per item
    body: "bytes | str"
    status_code: int

    def __init__(
        self,
        body: "bytes | str" = b"",
        status_code: int = 200,
        headers: "Mapping[str, Any] | None" = None,
        content_type: "str | None" = None,
    ) -> None:
        self.headers = dict(headers) if headers else {}
        if isinstance(body, str):
            body = body.encode()
        if content_type is None and body:
            for name in self.headers:
                if name.lower() == "content-type":
                    break
            else:
                content_type = TEXT
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        self.body = body
        self.status_code = status_code

    def set_cookie(self, *args: "Any", **kwargs: "Any") -> None:
        """Add a Set-Cookie field (see httpserver.cookies.set_cookie)."""
        from .cookies import set_cookie

        set_cookie(self, *args, **kwargs)

    def delete_cookie(self, *args: "Any", **kwargs: "Any") -> None:
        """Tell the client to drop a cookie (see httpserver.cookies.delete_cookie)."""
        from .cookies import delete_cookie

        delete_cookie(self, *args, **kwargs)

    def content_length(self) -> "int | None":
        """The body's size in bytes, or None when only its end will tell."""
        body = self.body
        if isinstance(body, str):
            # An after_request hook may have replaced the body with text.
            body = self.body = body.encode()
        return len(body)

    async def produce(self, sink: "Any") -> None:
        """Await sink.send(block) with each piece of the body, in order."""
        if self.body:
            await sink.send(self.body)

    async def close(self) -> None:
        """Release what the body holds when it is not sent (HEAD, an error)."""


class JSONResponse(Response):
    """A response whose body is data serialized as JSON."""

    def __init__(
        self, data: "Any", status_code: int = 200, headers: "Mapping[str, Any] | None" = None
    ) -> None:
        Response.__init__(self, _dumps(data).encode(), status_code, headers, JSON)


try:
    # Non-ASCII text as UTF-8, not as \u escapes: what MicroPython's
    # json.dumps writes (it takes no options), so both send the same bytes.
    json.dumps("", ensure_ascii=False)

    def _dumps(data):
        return json.dumps(data, ensure_ascii=False)

except TypeError:
    _dumps = json.dumps


def coerce(value: "Any") -> Response:
    """Turn what a handler returned into a Response (see the guide's table)."""
    if isinstance(value, Response):
        return value
    if value is None:
        return Response(b"", 204)
    if isinstance(value, tuple):
        if not 2 <= len(value) <= 3:
            raise TypeError("a returned tuple is (body, status) or (body, status, headers)")
        response = coerce(value[0])
        response.status_code = value[1]
        if len(value) == 3 and value[2]:
            response.headers.update(value[2])
        return response
    if isinstance(value, (dict, list)):
        return JSONResponse(value)
    if isinstance(value, str):
        return Response(value)
    if isinstance(value, (bytes, bytearray)):
        return Response(bytes(value), content_type=BINARY)
    raise TypeError("a handler cannot return %s" % type(value).__name__)


def error_response(exc):
    """The default response for an HTTPException: JSON {"error": message}."""
    response = JSONResponse({"error": str(exc)}, exc.status_code, exc.headers)
    return response
