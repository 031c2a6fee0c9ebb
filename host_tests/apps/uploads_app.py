# The app behind host_tests/test_uploads.py: routes that stream their
# request body (saved to a folder, counted, left unread), a route with its
# own limit, an ordinary route, and /mem, the heap after a collection.
#
#   <runtime> uploads_app.py FOLDER [FULL_AFTER]
#
# FOLDER receives the saved files. Names starting "full-" are written
# through a stand-in for a filesystem that is full after FULL_AFTER bytes
# (OSError ENOSPC, as littlefs and FAT raise it).
import gc
import sys

import httpserver.uploads as uploads
from httpserver import App
from httpserver.multipart import parts

FOLDER = sys.argv[1]
FULL_AFTER = int(sys.argv[2]) if len(sys.argv) > 2 else 65536

app = App(read_timeout=1.0, keepalive_timeout=2.0, max_body_size=1024)


class NearlyFull:
    """A file on a filesystem with FULL_AFTER bytes free."""

    def __init__(self, path, mode):
        self.file = open(path, mode)
        self.free = FULL_AFTER

    def write(self, data):
        if len(data) > self.free:
            raise OSError(28)  # ENOSPC
        self.free -= len(data)
        return self.file.write(data)

    def close(self):
        self.file.close()


def opener(path, mode="r"):
    name = path.rsplit("/", 1)[-1]
    if name.startswith("full-"):
        return NearlyFull(path, mode)
    return open(path, mode)


uploads.open = opener  # what save() opens files with: the stand-in above


@app.before_request
def refuse_without_token(request):
    # Checked before a streamed body is read: a refused one never is.
    if request.headers.get("x-token") == "wrong":
        return {"error": "Unauthorized"}, 401


@app.post("/save/<name>", stream=True, max_body_size=2 * 1024 * 1024)
async def save(request, name):
    size = await uploads.save(request, FOLDER + "/" + name)
    return {"saved": size, "body": len(request.body)}


@app.put("/count", stream=True, max_body_size=2 * 1024 * 1024)
async def count(request):
    # Pieces as they come, with the sizes seen.
    total = largest = 0
    async for chunk in request.stream():
        total += len(chunk)
        largest = max(largest, len(chunk))
    return {"total": total, "largest": largest}


@app.post("/first/<int:n>", stream=True, max_body_size=2 * 1024 * 1024)
async def first(request, n):
    # Reads only the first n bytes and answers: the server deals with the rest.
    data = await request.read(n)
    return {"first": data.decode()}


@app.post("/limited", stream=True, max_body_size=100)
async def limited(request):
    data = await request.read()
    return {"length": len(data)}


@app.post("/plain")
async def plain(request):
    return {"length": len(request.body)}


@app.post("/plain-large", max_body_size=3000)
async def plain_large(request):
    return {"length": len(request.body)}


@app.post("/form", stream=True, max_body_size=2 * 1024 * 1024)
async def form(request):
    # Fields as str, files saved under their own names.
    fields, files = {}, []
    async for part in parts(request):
        if part.filename is None:
            fields[part.name] = part.value
        else:
            size = await part.save(FOLDER + "/" + part.filename)
            files.append([part.name, part.filename, part.content_type, size])
    return {"fields": fields, "files": files}


@app.post("/form-chunks", stream=True, max_body_size=8192)
async def form_chunks(request):
    # File parts iterated, not saved; the fields' and files' order kept.
    seen = []
    async for part in parts(request, max_parts=3, max_header_size=200, max_field_size=100):
        if part.filename is None:
            seen.append([part.name, part.value])
        else:
            total = largest = 0
            async for chunk in part:
                total += len(chunk)
                largest = max(largest, len(chunk))
            seen.append([part.name, total, largest])
    return {"parts": seen}


@app.post("/form-skip", stream=True, max_body_size=8192)
async def form_skip(request):
    # Reads no part's data: the parser skips it.
    names = []
    async for part in parts(request):
        names.append([part.name, part.filename])
    return {"names": names}


@app.post("/small-form")
async def small_form(request):
    return request.form()


@app.post("/small-form-twice")
async def small_form_twice(request):
    first = request.form()
    return {"same": request.form() == first, "body": len(await request.read())}


@app.get("/mem")
async def mem(request):
    gc.collect()
    gc.collect()
    alloc = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    return {"alloc": alloc}


app.run(host="127.0.0.1", port=0)
