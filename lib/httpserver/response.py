import json

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
BINARY = "application/octet-stream"


def _no_body(status):
    # RFC 9110 6.4.1: these statuses never carry content.
    return status < 200 or status == 204 or status == 304


class Response:
    """An HTTP response with a fixed body, sent with its Content-Length."""

    chunked = False  # framed by Transfer-Encoding: chunked (needs HTTP/1.1)
    upgraded = False  # took the connection over (WebSocket): it ends here
    encoded = False  # its head was encoded, so writing it has begun

    def __init__(self, body=b"", status_code=200, headers=None, content_type=None):
        self.headers = dict(headers) if headers else {}
        if isinstance(body, str):
            body = body.encode()
            if content_type is None and body:
                content_type = TEXT
        elif content_type is None and body:
            for name in self.headers:
                if name.lower() == "content-type":
                    break
            else:
                content_type = BINARY
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        self.body = body
        self.status_code = status_code

    def _framing(self):
        if _no_body(self.status_code):
            return ""
        return "Content-Length: %d\r\n" % len(self.body)

    def head(self, connection=""):
        """The encoded status line and header block; connection is added as is."""
        # The encoder loads with the server: defining an app does not need it.
        from .protocol import encode_head

        head = encode_head(self.status_code, self.headers, self._framing() + connection)
        self.encoded = True
        return head

    def set_cookie(self, *args, **kwargs):
        """Add a Set-Cookie field (see httpserver.cookies.set_cookie)."""
        from .cookies import set_cookie

        set_cookie(self, *args, **kwargs)

    def delete_cookie(self, *args, **kwargs):
        """Tell the client to drop a cookie (see httpserver.cookies.delete_cookie)."""
        from .cookies import delete_cookie

        delete_cookie(self, *args, **kwargs)

    async def write(self, writer, send_body, connection="", version="HTTP/1.1"):
        body = self.body
        if isinstance(body, str):
            # An after_request hook may have replaced the body with text.
            body = self.body = body.encode()
        head = self.head(connection)
        if send_body and body and not _no_body(self.status_code):
            if len(body) <= 1024:
                writer.write(head + body)
            else:
                writer.write(head)
                writer.write(body)
        else:
            writer.write(head)
        await writer.drain()


class JSONResponse(Response):
    """A response whose body is data serialized as JSON."""

    def __init__(self, data, status_code=200, headers=None):
        Response.__init__(self, json.dumps(data).encode(), status_code, headers, JSON)


def coerce(value):
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
