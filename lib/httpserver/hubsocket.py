# The WebSocket half of a hub (hub.py): loaded with a hub's first WebSocket
# client, so that a dashboard served over SSE alone never pays for it.
import asyncio

from . import runtime
from .hub import _text
from .websocket import TEXT, WebSocketClosed


async def session(request, ws, hub):
    """One WebSocket client of hub, as its route's handler: what the hub
    publishes goes out as text messages (the data alone: the event name is
    SSE's); what the client sends goes to hub.on_message."""
    if not hub._enter():
        await ws.close(1013, "too many clients")  # try again later
        return
    hub._sockets.append(ws)
    # The keep-alive ends this task (the connection's) when the client
    # stops answering.
    listener = asyncio.create_task(_listen(hub, ws))
    try:
        welcome = hub.welcome(request) if hub.welcome else ()
        # After the welcome, which may publish what this client starts with.
        wanted = hub._start(request)
        for _event, data in welcome:
            await ws.send(_text(data))
        # This frame lives as long as the client: it keeps no copies.
        welcome = data = None
        while not ws.closed:
            if wanted > hub.last_id:
                await hub._wait()
                continue
            wanted = hub._catch_up(wanted)
            if wanted < 0:
                await ws.close(1008, "too far behind")
                break
            entry = hub._ring[wanted % len(hub._ring)]
            wanted += 1
            if entry is not None and not ws._close_sent:
                await ws._send_frame(TEXT, _payload(entry))
    finally:
        hub.clients -= 1
        hub._sockets.remove(ws)
        listener.cancel()
    # The listener's read ends before the closing handshake reads.
    await asyncio.sleep(0)


def _payload(event):
    """The data of an SSE event as the hub publishes it (bytes: an id: line,
    perhaps an event: line, then data: lines): those lines joined by newlines."""
    data = event[event.find(b"\ndata: ") + 7 : -2]
    if b"\ndata: " in data:
        data = data.replace(b"\ndata: ", b"\n")
    return data


async def _listen(hub, ws):
    # Reads for as long as the client is there: its messages, the pongs
    # that the keep-alive waits for, and its close, which the writer above
    # learns of at once.
    try:
        while True:
            message = await ws.receive()
            if hub.on_message is not None:
                try:
                    result = hub.on_message(message)
                    if result is not None:
                        await result
                except Exception as exc:
                    runtime.log_exception(exc)
    except WebSocketClosed:
        pass
    finally:
        hub._wake()
