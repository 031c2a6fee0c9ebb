# The least app, for host_tests/test_connections.py on the smallest heaps:
# what is measured there is the library, not the test app's own code.
#
#   <runtime> connection_small_app.py PORT [ws=1]
#
# ws=1 adds a WebSocket echo at /ws, with the library's default limits.
import sys

from httpserver import App

app = App(shutdown_timeout=1.0)


@app.get("/hello")
async def hello(request):
    return "hello"


@app.post("/body")
async def body(request):
    return {"length": len(request.body)}


if "ws=1" in sys.argv[2:]:

    @app.websocket("/ws")
    async def echo(request, ws):
        async for message in ws:
            await ws.send(message)


app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
