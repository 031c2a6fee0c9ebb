# The server's writer for these bodies loads with them, at start-up, rather
# than at the first answer on a crowded heap.
import httpserver.bodies  # noqa: F401

from . import runtime
from .response import Response

if False:  # for type checkers only: MicroPython's compiler drops the block
    from collections.abc import AsyncIterable, Iterable, Mapping
    from typing import Any


def _pump(source, deliver):
    """Await deliver(chunk) for each chunk that source produces.

    MicroPython runs an `async def` that yields as a plain generator, in
    which each await surfaces as a yield of a non-chunk (None). Those are
    passed up to the scheduler, so both sync and async generators work.
    """
    if hasattr(source, "__anext__"):
        while True:
            try:
                chunk = yield from source.__anext__()
            except StopAsyncIteration:
                return
            yield from deliver(chunk)
    sent = None
    while True:
        try:
            item = source.send(sent)
        except StopIteration:
            return
        sent = None
        if item is None:
            # An await inside the generator: the scheduler's business.
            sent = yield
        else:
            yield from deliver(item)


class StreamingResponse(Response):
    """A response whose body comes from a generator, sent as it is produced.

    generator may be an async generator or a plain one, yielding str or
    bytes. HTTP/1.1 clients get it chunked; HTTP/1.0 clients get the raw
    bytes and the connection closes at the end. An empty chunk is skipped,
    never taken as the end of the stream.

    A subclass that produces its body another way (pushing events, say)
    overrides produce(sink) and awaits sink.send(bytes) as often as it likes.
    """

    def __init__(
        self,
        generator: "AsyncIterable[bytes | str] | Iterable[bytes | str]",
        status_code: int = 200,
        headers: "Mapping[str, Any] | None" = None,
        content_type: "str | None" = None,
    ) -> None:
        Response.__init__(
            self, b"", status_code, headers, content_type or "application/octet-stream"
        )
        self.generator = generator
        if (content_type or "").startswith("text/event-stream"):
            self.headers.setdefault("Cache-Control", "no-cache")

    def content_length(self):
        return None

    async def produce(self, sink):
        self._sink = sink
        try:
            await (runtime.pump or _pump)(self.generator, self._deliver)
        finally:
            # Runs the generator's own finally when the client has gone.
            await self.close()

    async def _deliver(self, chunk):
        if isinstance(chunk, str):
            chunk = chunk.encode()
        elif not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("a stream yields str or bytes, not %s" % type(chunk).__name__)
        if chunk:
            await self._sink.send(chunk)

    async def close(self):
        generator = self.generator
        close = getattr(generator, "aclose", None) or getattr(generator, "close", None)
        if close is not None:
            result = close()
            if result is not None:
                await result
