# An app written against zerodep's httpserver API, for the behaviours a
# zerodep app relies on. Serves on port 0 (or the Unix socket given as the
# first argument). The static directory is ./public, registered first, so
# that routes registered after it must still answer their paths.
import sys

from httpserver import App, FileResponse, HTTPException, Response, abort

app = App()
app.static("/", "./public")


class Gone(HTTPException):
    pass


@app.errorhandler(404)
async def not_found(request, exc):
    return {"handled_by": "404", "message": exc.message}, 404


@app.errorhandler(Exception)
async def anything(request, exc):
    return {"handled_by": "Exception", "type": type(exc).__name__}, 500


@app.errorhandler(Gone)
async def gone(request, exc):
    return {"handled_by": "Gone", "status": exc.status_code}, exc.status_code


@app.get("/conflict")
async def conflict(request):
    abort(409)


@app.get("/gone")
async def is_gone(request):
    raise Gone(410)


@app.get("/boom")
async def boom(request):
    raise RuntimeError("boom")


@app.get("/message/<int:code>")
async def message(request, code):
    exc = HTTPException(code)
    return {"message": exc.message, "str": str(exc)}


@app.post("/json-caught")
async def json_caught(request):
    try:
        return {"data": request.json()}
    except ValueError as exc:
        return {"caught": "ValueError", "message": str(exc)}


@app.post("/json-uncaught")
async def json_uncaught(request):
    return {"data": request.json()}


@app.get("/mid/<path:p>/edit")
async def mid(request, p):
    return {"p": p}


@app.get("/file_<id>.txt")
async def file_id(request, id):
    return {"id": id}


@app.get("/neg/<int:n>")
async def negative(request, n):
    return {"n": n}


@app.get("/users/<name>")
async def user(request, name):
    return {"user": name}


@app.get("/users/me")
async def me(request):
    return {"user": "literal me"}


@app.get("/users/<int:id>/profile")
async def profile(request, id):
    return {"profile": id}


@app.route("/any", methods=["*"])
async def any_method(request):
    return {"method": request.method}


@app.post("/submit")
async def submit(request):
    return {"submitted": True}


@app.get("/file-typed")
async def file_typed(request):
    return FileResponse("public/hello.txt", "text/x-custom")


@app.get("/file-status")
async def file_status(request):
    return FileResponse("public/hello.txt", 203)


@app.get("/file-keywords")
async def file_keywords(request):
    return FileResponse("public/hello.txt", status_code=201, content_type="text/x-kw")


@app.get("/bytes-response")
async def bytes_response(request):
    return Response(b"raw bytes")


@app.get("/bytes-returned")
async def bytes_returned(request):
    return b"raw bytes"


@app.get("/where")
async def where(request):
    return {"host": request.app.host, "port": request.app.port}


@app.get("/client")
async def client(request):
    return {"client": list(request.client_addr)}


@app.get("/unicode")
async def unicode(request):
    # A list: the order of a dict's keys differs between the runtimes.
    return ["h\u00e9 \u2603 \U0001f600 \x7f \u2028 \\u00e9", {"\u00fc": 1}]


@app.get("/query")
async def query(request):
    return request.query_params


if len(sys.argv) > 1:
    app.run(socket=sys.argv[1])
else:
    app.run(host="127.0.0.1", port=0)
