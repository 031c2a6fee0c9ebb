# The server's writer for bodies that are not bytes in hand: files, streams
# and the take-over by a WebSocket, framed as protocol.frame_response
# decided. Loaded with the first such response: an app that answers with
# bytes (most requests on a board) never pays heap for it.
import asyncio


class _Sink:
    """What Response.produce() sends each block of the body to."""

    def __init__(self, conn, chunked):
        self.conn = conn
        self.chunked = chunked

    async def send(self, block):
        conn = self.conn
        if self.chunked:
            size = b"%x\r\n" % len(block)
            if len(block) <= 1024:
                conn.write(size + block + b"\r\n")
            else:
                conn.write(size)
                conn.write(block)
                conn.write(b"\r\n")
        else:
            conn.write(block)
        await conn.drain()
        # The socket may take every block at once (loopback, a fast
        # client): without this, one download would hold up every other.
        await asyncio.sleep(0)


async def write(conn, response, mode):
    """The body after the head; False when the connection was taken over."""
    from .protocol import CHUNKED, FIXED  # loaded with the server already

    if response.upgrade and response.status_code == 101:
        conn.streaming = True
        await response.take_over(conn)
        return False
    # A stream ends only when its source does: shutdown ends it.
    conn.streaming = mode != FIXED
    try:
        await response.produce(_Sink(conn, mode == CHUNKED))
    finally:
        conn.streaming = False
    if mode == CHUNKED:
        conn.write(b"0\r\n\r\n")
        await conn.drain()
    return True
