# Every example of the httpserver guide, as written, in one app. The tests
# run it from a folder holding public/ and report.pdf, under CPython and
# under MicroPython with a 128K heap from .py source.
import sys

from httpserver import App, JSONResponse

app = App()


@app.get("/hello")
async def hello(request):
    return {"message": "Hello, World!"}


@app.post("/echo")
async def echo(request):
    return JSONResponse(request.json())


@app.get("/users/<int:id>")
async def get_user(request, id):
    return {"user_id": id}


@app.get("/files/<path:filepath>")
async def get_file(request, filepath):
    return {"path": filepath}


@app.route("/items", methods=["GET", "POST"])
async def items(request):
    if request.method == "GET":
        return {"items": []}
    data = request.json()
    return JSONResponse({"created": data}, status_code=201)


@app.get("/search")
async def search(request):
    q = request.query_params.get("q", [""])[0]
    auth = request.headers.get("authorization", "")
    return {"query": q, "auth_present": bool(auth)}


@app.get("/sync")
def sync_handler(request):
    import time

    time.sleep(0.01)  # blocking I/O is fine
    return {"sync": True}


from httpserver import StreamingResponse  # noqa: E402  (the guide's order)


@app.get("/events")
async def events(request):
    async def generate():
        for i in range(5):
            yield f"data: event {i}\n\n"

    return StreamingResponse(generate(), content_type="text/event-stream")


app.static("/assets", "./public")
# GET /assets/style.css → serves ./public/style.css


@app.before_request
async def auth_check(request):
    if not request.headers.get("authorization"):
        return JSONResponse({"error": "unauthorized"}, status_code=401)


@app.after_request
async def add_cors(request, response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@app.errorhandler(404)
async def not_found(request, exc):
    return JSONResponse({"error": "not found"}, status_code=404)


@app.errorhandler(ValueError)
async def bad_value(request, exc):
    return JSONResponse({"error": str(exc)}, status_code=400)


from httpserver import FileResponse  # noqa: E402  (the guide's order)


@app.get("/download")
async def download(request):
    return FileResponse("report.pdf")


@app.get("/dict")
async def as_dict(request):
    return {"key": "value"}  # → JSONResponse


@app.get("/text")
async def as_text(request):
    return "Hello"  # → Response (text/plain)


@app.get("/bytes")
async def as_bytes(request):
    return b"\x89PNG..."  # → Response (application/octet-stream)


@app.get("/tuple")
async def as_tuple(request):
    return {"ok": True}, 201  # → JSONResponse with status 201


@app.get("/empty")
async def as_none(request):
    return None  # → 204 No Content


@app.post("/shutdown")
async def trigger_shutdown(request):
    request.app.shutdown()
    return {"status": "shutting down"}


# Not in the guide: lets the tests provoke the ValueError handler.
@app.get("/value-error")
async def value_error(request):
    raise ValueError("bad value here")


app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
