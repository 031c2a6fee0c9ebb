# An app served over TLS for host_tests/test_tls.py, on either runtime:
#   tls_app.py CERT KEY [plain]
# CPython loads the PEM files; MicroPython loads the DER files next to them
# (same name, .der), as a board stores them. "plain" serves without TLS, to
# compare the heap.
import gc
import ssl
import sys

from httpserver import App, StreamingResponse
from httpserver.websocket import websocket

MICROPYTHON = sys.implementation.name == "micropython"


def memory():
    gc.collect()
    if MICROPYTHON:
        return gc.mem_alloc()
    return 0


before = memory()
if len(sys.argv) > 3 and sys.argv[3] == "plain":
    context = None
else:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if MICROPYTHON:
        with open(sys.argv[1][:-4] + ".der", "rb") as f:
            cert = f.read()
        with open(sys.argv[2][:-4] + ".der", "rb") as f:
            key = f.read()
        context.load_cert_chain(cert, key)
        del cert, key
    else:
        context.load_cert_chain(sys.argv[1], sys.argv[2])
context_cost = memory() - before

app = App(read_timeout=2.0, keepalive_timeout=1.0, max_connections=4)


@app.get("/")
async def index(request):
    return {"scheme": request.scheme, "client": request.client_addr[0]}


@app.get("/mem")
async def mem(request):
    # Heap in use while this (TLS) connection is open.
    return {"alloc": memory(), "context": context_cost}


@app.post("/echo")
async def echo(request):
    return request.body


@app.get("/big")
async def big(request):
    return "0123456789" * 3000


@app.get("/stream")
async def stream(request):
    def parts():
        for i in range(5):
            yield "part %d\n" % i

    return StreamingResponse(parts(), content_type="text/plain")


@websocket(app, "/ws")
async def ws_echo(request, ws):
    await ws.send(request.scheme)
    async for message in ws:
        await ws.send(message)


app.run(host="127.0.0.1", port=0, ssl=context)
