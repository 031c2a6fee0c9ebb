# The app behind host_tests/test_hardening_memory.py: the library's default
# limits (max_connections and max_body_size as on a board) but short
# timeouts, routes that take bodies, a handler that allocates until the heap
# runs out, and /mem, which reports the heap after a collection.
#
#   <runtime> hardening_memory_app.py [PORT]
import gc
import sys

from httpserver import App, Response

MICROPYTHON = sys.implementation.name == "micropython"

app = App(read_timeout=2.0, keepalive_timeout=2.0, shutdown_timeout=1.0)

try:
    from binascii import crc32
except ImportError:  # a port built without it

    def crc32(data):
        return sum(data) & 0xFFFFFFFF


@app.get("/ok")
async def ok(request):
    return "ok"


@app.route("/body", methods=["POST", "PUT"])
async def body(request):
    # What the server handed over, small enough to check: length and CRC.
    data = request.body
    return {"length": len(data), "crc": crc32(data)}


@app.post("/json")
async def json_body(request):
    value = request.json()
    return {"type": type(value).__name__}


@app.get("/query")
async def query(request):
    return request.query_params


@app.get("/big")
async def big(request):
    # A response body of n bytes, built in one piece.
    n = int(request.query_params.get("n", ["1024"])[0])
    return Response(b"x" * n, content_type="application/octet-stream")


@app.get("/hog")
async def hog(request):
    # Allocates until MemoryError, and lets it propagate.
    if not MICROPYTHON:
        raise MemoryError  # do not exhaust the test machine
    held = []
    while True:
        held.append(bytearray(1024))


@app.get("/hog-once")
async def hog_once(request):
    # One allocation larger than the whole heap.
    return Response(bytes(1 << 24))


@app.get("/mem")
async def mem(request):
    gc.collect()
    gc.collect()
    if MICROPYTHON:
        return {"alloc": gc.mem_alloc(), "free": gc.mem_free(), "connections": app.connections}
    return {"alloc": len(gc.get_objects()), "free": 0, "connections": app.connections}


@app.get("/where")
async def where(request):
    # Where the library was loaded from (.mpy or .py).
    import httpserver.server

    return {"file": getattr(httpserver.server, "__file__", "")}


app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
