from . import runtime
from .response import Response


class StreamingResponse(Response):
    """A response whose body comes from a generator, sent as it is produced.

    generator may be an async generator or a plain one, yielding str or
    bytes. HTTP/1.1 clients get it chunked; HTTP/1.0 clients get the raw
    bytes and the connection closes at the end. An empty chunk is skipped,
    never taken as the end of the stream.
    """

    chunked = True

    def __init__(self, generator, status_code=200, headers=None, content_type=None):
        Response.__init__(
            self, b"", status_code, headers, content_type or "application/octet-stream"
        )
        self.generator = generator
        if (content_type or "").startswith("text/event-stream"):
            self.headers.setdefault("Cache-Control", "no-cache")

    def _framing(self):
        return "Transfer-Encoding: chunked\r\n" if self.chunked_out else ""

    async def write(self, writer, send_body, connection="", version="HTTP/1.1"):
        await self.begin(writer, connection, version)
        if not send_body:
            await self._close()
            return
        try:
            await runtime.pump(self.generator, self.write_chunk)
        finally:
            # Runs the generator's own finally when the client has gone.
            await self._close()
        await self.end()

    # A subclass that produces its body another way (pushing events, say)
    # overrides write() with begin(), write_chunk() as often as it likes,
    # and end(), and keeps the framing.

    async def begin(self, writer, connection="", version="HTTP/1.1"):
        """Send the head; chunked framing when the client speaks HTTP/1.1."""
        self.chunked_out = version == "HTTP/1.1"
        self._writer = writer
        writer.write(self.head(connection))
        await writer.drain()

    async def write_chunk(self, chunk):
        """Send one piece of the body (str or bytes); an empty one is skipped."""
        if isinstance(chunk, str):
            chunk = chunk.encode()
        elif not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("a stream yields str or bytes, not %s" % type(chunk).__name__)
        if not chunk:
            return
        writer = self._writer
        if self.chunked_out:
            writer.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        else:
            writer.write(chunk)
        await writer.drain()

    async def end(self):
        """Mark the end of the body (HTTP/1.0 clients see the connection close)."""
        if self.chunked_out:
            self._writer.write(b"0\r\n\r\n")
            await self._writer.drain()

    async def _close(self):
        close = getattr(self.generator, "aclose", None) or getattr(self.generator, "close", None)
        if close is not None:
            result = close()
            if result is not None:
                await result
