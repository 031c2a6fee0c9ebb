# Five-route benchmark app for httpserver (runs unchanged on MicroPython and CPython).
# Usage: <python> hs_app.py PORT
import gc
import sys

from httpserver import App

# Ten idle connections plus the measuring one must fit under the cap; the rest is default.
app = App(max_connections=16)


@app.get("/hello")
async def hello(request):
    return "Hello, World!"


@app.get("/users/<int:id>")
async def user(request, id):
    return {"id": id}


@app.get("/search")
async def search(request):
    return {"q": request.query_params.get("q", [""])[0]}


@app.post("/echo")
async def echo(request):
    return request.json()


@app.get("/mem")
async def mem(request):
    # mode=peek: heap in use now, no collection (counts allocations while gc is off)
    # mode=off:  collect, then switch the collector off;  default: collect, switch it on
    mode = request.query_params.get("mode", [""])[0]
    if mode == "peek":
        return {"alloc": gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0}
    gc.collect()
    if mode == "off":
        gc.disable()
    else:
        gc.enable()
    if hasattr(gc, "mem_alloc"):
        return {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
    return {"alloc": 0, "free": 0}


port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
app.run(host="127.0.0.1", port=port)
