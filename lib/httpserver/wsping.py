# WebSocket keep-alive (websocket(..., ping_interval=N), WebSocket.keepalive(),
# a hub's beat): loaded with the first connection that uses it, so that a
# WebSocket without pings costs a board none of this.
import asyncio

from .websocket import ABNORMAL


def beat(ws):
    """ws.keepalive(): ping the client, or close the connection when it has
    not answered the previous ping. Whether the client is still there."""
    if ws.closed:
        return False
    if ws._conn is None:
        return True  # over ASGI: the server there pings
    if ws._pinged:
        ws._set_closed(ABNORMAL, "no answer to ping")
        # The handler runs in the connection's own task: ended, it closes.
        if ws._conn.task is not None:
            ws._conn.task.cancel()
        return False
    ws._pinged = True
    # Written, not drained: a sender may be draining, and a client too slow
    # to take two bytes fails the next beat anyway.
    try:
        ws._conn.write(b"\x89\x00")
    except OSError:
        ws._set_closed(ABNORMAL, "connection lost")
        return False
    return True


async def ping_every(ws, interval):
    """Beat every interval seconds until the client is gone."""
    while True:
        await asyncio.sleep(interval)
        if not beat(ws):
            return
