# Routes that exercise the core's behaviour, with small limits so that the
# tests can reach them quickly.
import asyncio
import sys

from httpserver import App, HTTPException, Response, StreamingResponse, abort

app = App(
    max_body_size=1024,
    read_timeout=1.0,
    keepalive_timeout=1.0,
    max_connections=6,
    max_request_line=256,
    max_head_size=1024,
    max_headers=20,
)


class AppError(Exception):
    pass


class SpecificError(AppError):
    pass


@app.route("/price/<float:price>")
async def price(request, price):
    return {"price": price, "type": type(price).__name__}


@app.route("/name/<name>/<int:n>")
def name(request, name, n):
    return {"name": name, "n": n, "params": request.path_params}


@app.route("/resource", methods=["GET", "PUT"])
async def resource(request):
    return {"method": request.method}


@app.delete("/resource")
async def delete_resource(request):
    return None


@app.post("/in spect")
async def inspect(request):
    return {
        "method": request.method,
        "path": request.path,
        "query_string": request.query_string,
        "query_params": request.query_params,
        "headers": dict(request.headers.items()),
        "x_multi": request.headers.get("X-Multi"),
        "has_x_multi": "X-MULTI" in request.headers,
        "body_length": len(request.body),
        "text": request.text(),
        "client_host": request.client_addr[0],
        "client_port_ok": isinstance(request.client_addr[1], int),
        "app_ok": request.app is app,
    }


@app.route("/inspect/<path:rest>")
async def inspect_path(request, rest):
    return {"path": request.path, "rest": rest}


@app.post("/json")
async def parse_json(request):
    first = request.json()
    return {"data": first, "cached": request.json() is first}


@app.post("/form")
async def parse_form(request):
    return request.form()


@app.get("/tuple-headers")
async def tuple_headers(request):
    return "made", 201, {"X-Custom": "yes"}


@app.get("/list")
async def as_list(request):
    return [1, 2, 3]


@app.get("/response")
async def response(request):
    return Response(
        "<b>hi</b>", 202, {"X-A": "1", "content-length": "999"}, content_type="text/html"
    )


@app.get("/abort")
async def do_abort(request):
    abort(418, "teapot here")


@app.get("/http-exception")
async def http_exception(request):
    raise HTTPException(409)


@app.get("/app-error")
async def app_error(request):
    raise SpecificError("specific")


@app.get("/crash")
async def crash(request):
    raise KeyError("traceback-secret")


@app.get("/crash-sync")
def crash_sync(request):
    raise RuntimeError("sync-secret")


@app.errorhandler(AppError)
async def handle_app_error(request, exc):
    return {"handled": type(exc).__name__}, 422


@app.get("/short")
async def short_circuited(request):
    return {"reached": True}


@app.before_request
def block(request):
    if request.path == "/short":
        return "blocked", 403


@app.after_request
def mark(request, response):
    response.headers["X-After"] = "ran"


@app.get("/stream")
async def stream(request):
    async def numbers():
        for i in range(3):
            yield "part%d;" % i
            yield b""
            await asyncio.sleep(0.01)

    return StreamingResponse(numbers(), content_type="text/plain")


@app.get("/stream-sync")
async def stream_sync(request):
    def numbers():
        for i in range(3):
            yield b"s%d;" % i

    return StreamingResponse(numbers())


@app.get("/stream-fail")
async def stream_fail(request):
    async def failing():
        yield "first;"
        await asyncio.sleep(0.01)
        raise RuntimeError("stream broke")

    return StreamingResponse(failing())


@app.get("/slow")
async def slow(request):
    await asyncio.sleep(0.3)
    return "slow done"


@app.get("/big")
async def big(request):
    return "x" * 5000


@app.get("/memory")
async def memory(request):
    hog = []
    while True:
        hog.append(bytearray(4096))


@app.get("/blocking")
def blocking(request):
    import time

    time.sleep(0.5)
    return "woke"


@app.post("/shutdown")
async def shutdown(request):
    request.app.shutdown()
    return {"stopping": True}


@app.get("/sync-shutdown")
def sync_shutdown(request):
    request.app.shutdown()
    return {"stopping": True}


app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
