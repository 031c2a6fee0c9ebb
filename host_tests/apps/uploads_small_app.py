# The smallest upload app, for test_uploads.py's 1 MB uploads in a small
# heap: a streamed body saved, a multipart form with its file saved, /mem,
# the heap after a collection, and /modules, the modules loaded.
#
#   <runtime> uploads_small_app.py FOLDER
import gc
import sys

from httpserver import App
from httpserver.multipart import parts
from httpserver.uploads import save

FOLDER = sys.argv[1]
app = App(max_body_size=2 * 1024 * 1024)


@app.post("/save/<name>", stream=True)
async def save_body(request, name):
    return {"saved": await save(request, FOLDER + "/" + name)}


@app.post("/form", stream=True)
async def form(request):
    fields, files = {}, {}
    async for part in parts(request):
        if part.filename is None:
            fields[part.name] = part.value
        else:
            files[part.filename] = await part.save(FOLDER + "/" + part.filename)
    return {"fields": fields, "files": files}


@app.get("/mem")
async def mem(request):
    gc.collect()
    gc.collect()
    return {"alloc": gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0}


@app.get("/modules")
async def modules(request):
    return {"modules": sorted(sys.modules)}


app.run(host="127.0.0.1", port=0)
