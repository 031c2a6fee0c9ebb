# WebSocket routes for host_tests/test_websocket.py, served by our server on
# either runtime (and by uvicorn through host_tests/apps/asgi_ws.py).
import asyncio
import json
import sys

from httpserver import App
from httpserver.websocket import WebSocketClosed, websocket

app = App(max_connections=8, shutdown_timeout=0.5, read_timeout=2.0, keepalive_timeout=0.3)
events = []


@app.before_request
def guard(request):
    if request.path == "/ws/private" and request.query_string != "token=ok":
        return {"error": "forbidden"}, 403


@websocket(app, "/ws/echo", max_message_size=2048)
async def echo(request, ws):
    async for message in ws:
        await ws.send(message)


@websocket(app, "/ws/default-limit")
async def default_limit(request, ws):
    async for message in ws:
        await ws.send(message)


@websocket(app, "/ws/private")
async def private(request, ws):
    await ws.send("welcome")


@websocket(app, "/ws/room/<name>/<int:n>", subprotocols=("v2.test", "v1.test"))
async def room(request, ws, name, n):
    await ws.send(
        json.dumps({"name": name, "n": n, "scheme": request.scheme, "subprotocol": ws.subprotocol})
    )


@websocket(app, "/ws/closer")
async def closer(request, ws):
    message = await ws.receive()
    await ws.close(4001, "bye " + message)


@websocket(app, "/ws/crash")
async def crash(request, ws):
    await ws.receive()
    raise RuntimeError("ws-handler-secret")


@websocket(app, "/ws/pinger")
async def pinger(request, ws):
    await ws.ping(b"hello")
    message = await ws.receive()
    await ws.send("got " + message)


@websocket(app, "/ws/flood")
async def flood(request, ws):
    # Sends without a pause to a client that does not read, while it waits
    # for the client's message: two tasks wait on one connection at once.
    async def send_forever():
        block = "x" * 4096
        while True:
            await ws.send(block)

    sender = asyncio.create_task(send_forever())
    try:
        events.append(("flood", await ws.receive()))
    finally:
        sender.cancel()


@websocket(app, "/ws/record")
async def record(request, ws):
    try:
        while True:
            await ws.receive()
    except WebSocketClosed as closed:
        events.append((closed.code, closed.reason))
        raise


@app.get("/events")
async def get_events(request):
    return {"events": events}


@app.post("/shutdown")
async def shutdown(request):
    request.app.shutdown()
    return {"stopping": True}


@app.get("/plain")
async def plain(request):
    return "plain"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
