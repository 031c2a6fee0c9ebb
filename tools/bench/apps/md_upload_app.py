# Upload benchmark app for microdot 2.7.0: a body over Request.max_body_length
# is left on the socket as request.stream, read in 2048-byte pieces (as
# httpserver's uploads.save() does when the heap allows) and written to a file.
# Usage: <python> md_upload_app.py PORT FOLDER
import gc
import sys

from microdot import Microdot, Request

FOLDER = sys.argv[2]
Request.max_content_length = 4 * 1024 * 1024
app = Microdot()


@app.post("/upload")
async def upload(request):
    left = request.content_length
    with open(FOLDER + "/md.bin", "wb") as file:
        while left:
            piece = await request.stream.read(min(left, 2048))
            if not piece:
                break
            file.write(piece)
            left -= len(piece)
    return {"saved": request.content_length - left}


@app.get("/mem")
async def mem(request):
    gc.collect()
    return {"alloc": gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
