# The server of an app with body routes (uploads.add_route): it finds the
# route before it reads a body, so that a streamed route's handler gets the
# request with its body still on the connection, and it closes the connection
# after an answer that left a body unread, so that what is left is never
# taken for a request. Loaded when such an app starts.
from .protocol import body_framing
from .response import HTTPException
from .server import Server
from .uploads import Body


class BodyServer(Server):
    """Server, with each route's body options (uploads.add_route's)."""

    async def _read_body(self, conn, request):
        app = self.app
        length = body_framing(request.headers, request.http_version)
        if length == 0:
            return b""  # no body: no route to look up
        try:
            handler = app._router.resolve(request.method, request.path)[0]
        except HTTPException:
            handler = None  # the 404 or 405 comes with dispatch
        options = app._body_routes.get(handler)
        if options is None:
            return await Server._read_body(self, conn, request)
        stream, limit = options
        if length is not None and length > limit:
            raise HTTPException(413)
        expect = request.headers.get("expect")
        if expect is not None and expect.lower() != "100-continue":
            raise HTTPException(417)
        if not stream:
            # Read whole before the handler, as the server does, with the
            # route's limit.
            if expect is not None:
                from .rare import expect as answer_expect

                await answer_expect(conn, request)
            if length is not None:
                return await conn.read_exact(length)
            from .chunked import read_chunked

            return await read_chunked(conn, limit, app.max_head_size)
        body = Body(conn, length, limit)
        body.max_trailer = app.max_head_size
        body.expect = expect is not None and request.http_version == "HTTP/1.1"
        request._reader = body
        conn.unread = True  # until it has all been read
        return b""

    async def finish(self, conn, response, method, version, connection, reusable):
        if getattr(conn, "unread", False):
            reusable = False
        return await Server.finish(self, conn, response, method, version, connection, reusable)
