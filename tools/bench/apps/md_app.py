# Five-route benchmark app for microdot 2.7.0 (runs on MicroPython and CPython).
# Usage: <python> md_app.py PORT
import gc
import sys

from microdot import Microdot

app = Microdot()


@app.get("/hello")
async def hello(request):
    return "Hello, World!"


@app.get("/users/<int:id>")
async def user(request, id):
    return {"id": id}


@app.get("/search")
async def search(request):
    return {"q": request.args.get("q", "")}


@app.post("/echo")
async def echo(request):
    return request.json


@app.get("/mem")
async def mem(request):
    # mode=peek: heap in use now, no collection (counts allocations while gc is off)
    # mode=off:  collect, then switch the collector off;  default: collect, switch it on
    mode = request.args.get("mode", "")
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


port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
print("Serving on http://127.0.0.1:%d/" % port)
app.run(host="127.0.0.1", port=port)
