# The app behind host_tests/test_connections.py: what a connection goes
# through (deadlines, the connection cap, long responses, failures after the
# head, limits at their value), on either runtime.
#
#   <runtime> connection_app.py PORT [name=value ...]
#
# PORT 0 picks a free one. The names set App limits (read_timeout,
# keepalive_timeout, max_connections, ...); static=DIR serves DIR at /files;
# ws=1 adds the WebSocket echo at /ws (left out where the heap is tight).
import sys

from httpserver import App, Response

LIMITS = ("read_timeout", "keepalive_timeout", "max_connections", "max_body_size", "max_headers")


def options(args):
    limits, extras = {"shutdown_timeout": 1.0}, {}
    for arg in args:
        name, _, value = arg.partition("=")
        if name in LIMITS:
            limits[name] = float(value) if "." in value else int(value)
        else:
            extras[name] = value
    return limits, extras


LIMIT_ARGS, EXTRAS = options(sys.argv[2:])
app = App(**LIMIT_ARGS)

# The stream in progress, as [blocks produced, blocks in all]: /hello reports
# it, so a test can tell whether /hello was answered during the stream.
progress = [0, 0]
smuggled = [0]


@app.get("/hello")
async def hello(request):
    return Response("hello", headers={"X-Stream-Progress": "%d/%d" % (progress[0], progress[1])})


@app.get("/count")
async def count(request):
    return {"connections": app.connections}


@app.route("/smuggled", methods=["GET", "POST"])
async def smuggled_hit(request):
    smuggled[0] += 1
    return "you should not see this"


@app.get("/hits")
async def hits(request):
    return {"smuggled": smuggled[0]}


@app.route("/body", methods=["POST", "PUT"])
async def body(request):
    return {"length": len(request.body)}


@app.get("/slow")
async def slow(request):
    import asyncio

    await asyncio.sleep(float(request.query_params.get("s", ["0.5"])[0]))
    return "slow"


@app.get("/fixed")
async def fixed(request):
    # A body of n bytes built in one piece, sent with its Content-Length.
    n = int(request.query_params.get("n", ["1024"])[0])
    return Response(b"x" * n, content_type="application/octet-stream")


def blocks(count, block, pause_after_first):
    import time

    progress[0], progress[1] = 0, count
    for index in range(count):
        if index == 1 and pause_after_first:
            # Blocks the loop where a server may be between blocks: a
            # request that comes meanwhile waits for the writer to yield.
            time.sleep(pause_after_first)
        progress[0] = index + 1
        yield block


@app.get("/stream")
async def stream(request):
    # A plain (sync) generator of n bytes in blocks of `block` (2 KiB).
    from httpserver import StreamingResponse

    query = request.query_params
    n = int(query.get("n", ["3145728"])[0])
    size = int(query.get("block", ["2048"])[0])
    pause = float(query.get("pause", ["0"])[0])
    return StreamingResponse(blocks(n // size, b"s" * size, pause))


def fails_after_first():
    yield b"first block of a stream that fails" * 30
    raise MemoryError("the heap ran out half way")


@app.get("/fails-after-first")
async def fails(request):
    from httpserver import StreamingResponse

    return StreamingResponse(fails_after_first())


if EXTRAS.get("static"):
    app.static("/files", EXTRAS["static"])

if EXTRAS.get("ws"):

    @app.websocket("/ws")
    async def echo(request, ws):
        async for message in ws:
            await ws.send(message)


app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
