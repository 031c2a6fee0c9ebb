# A hub for host_tests/test_hub.py, on CPython and MicroPython:
#     <python> hub_app.py '{"backlog": 16, ...}'
# The JSON holds the App's read_timeout and max_connections and the /events
# hub's options; /strict is a second hub that disconnects a client that
# falls 4 messages behind; /ws (with ws_ping_interval) a plain WebSocket
# route with pings.
import asyncio
import gc
import json
import sys

from httpserver import App

options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
ping_interval = options.pop("ws_ping_interval", None)
options_port = options.pop("port", 0)
app = App(
    read_timeout=options.pop("read_timeout", 30.0),
    max_connections=options.pop("max_connections", None),
)
received = []  # what WebSocket clients sent to the hub
ws_closes = []  # close codes the /ws handler saw, as WebSocketClosed
hub = app.hub("/events", on_message=received.append, **options)
strict = app.hub("/strict", backlog=4, overflow="close")


@app.post("/publish")
async def publish(request):
    # {"count": n, "size": bytes of padding, "event": name, "pause": s, "text": data, "hub": "strict"}
    spec = request.json()
    target = strict if spec.get("hub") == "strict" else hub
    pad = "x" * spec.get("size", 0)
    pause = spec.get("pause")
    first = None
    for i in range(spec.get("count", 1)):
        text = spec.get("text")
        sent = target.publish(text if text is not None else "%d %s" % (i, pad), spec.get("event"))
        first = first or sent
        if pause is not None:
            await asyncio.sleep(pause)
    return {"first": first, "last": target.last_id}


@app.get("/stats")
async def stats(request):
    gc.collect()
    alloc = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    return {
        "clients": hub.clients,
        "last": hub.last_id,
        "alloc": alloc,
        "received": received,
        "ws_closes": ws_closes,
    }


if ping_interval:  # only then: the module costs a small board's heap
    from httpserver.websocket import WebSocketClosed

    @app.websocket("/ws", ping_interval=ping_interval)
    async def echo(request, ws):
        try:
            while True:
                await ws.send(await ws.receive())
        except WebSocketClosed as closed:
            ws_closes.append(closed.code)
            raise


app.run(port=options_port)
