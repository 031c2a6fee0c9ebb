# Upload benchmark app for httpserver: a streamed request body saved to a
# file (uploads.save: a .part file renamed when complete), and /mem.
# Usage: <python> hs_upload_app.py PORT FOLDER
import gc
import sys

from httpserver import App
from httpserver.uploads import save

FOLDER = sys.argv[2]
app = App(max_body_size=4 * 1024 * 1024)


@app.post("/upload", stream=True)
async def upload(request):
    return {"saved": await save(request, FOLDER + "/hs.bin")}


@app.get("/mem")
async def mem(request):
    gc.collect()
    return {"alloc": gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
