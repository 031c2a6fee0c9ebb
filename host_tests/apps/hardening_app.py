# The app behind the hardening tests (host_tests/test_hardening_*.py): small
# limits and short timeouts so that every limit is reached in milliseconds,
# an echo route that shows everything the server handed to the app (to spot
# state leaking between requests), a counter of requests that should never
# arrive (smuggled ones), faulty handlers, hooks and streams, and an optional
# static directory.
#
#   <runtime> hardening_app.py [PORT] [STATIC_DIRECTORY]
import asyncio
import gc
import sys

from httpserver import App, Response, StreamingResponse

MICROPYTHON = sys.implementation.name == "micropython"

app = App(
    max_body_size=4096,
    read_timeout=1.0,
    keepalive_timeout=1.0,
    max_connections=4,
    max_request_line=512,
    max_head_size=2048,
    max_headers=24,
    shutdown_timeout=1.0,
)

# Requests for /smuggled* seen by the app, and streams whose generator ran
# its finally clause.
COUNTS = {"smuggled": 0, "stream_finally": 0, "stream_started": 0}


def _hex(data):
    return "".join("%02x" % b for b in data)


# Plain routes -----------------------------------------------------------------


@app.get("/ok")
async def ok(request):
    return "ok"


async def echo(request, rest=None):
    # Reading query_params parses the query: bad percent-encoding there is a
    # 400 raised from inside the handler.
    return {
        "method": request.method,
        "path": request.path,
        "rest": rest,
        "query_string": request.query_string,
        "query_params": request.query_params,
        "headers": dict(request.headers.items()),
        "body": _hex(request.body),
        "version": request.http_version,
        "path_params": request.path_params,
        "marker": getattr(request, "marker", None),
    }


for _methods in (["GET", "POST", "PUT", "DELETE", "PATCH"],):
    app.route("/echo", methods=_methods)(echo)
    app.route("/echo/<path:rest>", methods=_methods)(echo)


@app.route("/smuggled", methods=["GET", "POST"])
async def smuggled(request):
    COUNTS["smuggled"] += 1
    return {"smuggled": True}


@app.route("/smuggled/<path:rest>", methods=["GET", "POST"])
async def smuggled_rest(request, rest):
    COUNTS["smuggled"] += 1
    return {"smuggled": True}


@app.get("/counts")
async def counts(request):
    return COUNTS


@app.get("/mem")
async def mem(request):
    gc.collect()
    if MICROPYTHON:
        return {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
    return {"objects": len(gc.get_objects())}


@app.get("/slow")
async def slow(request):
    await asyncio.sleep(0.3)
    return "slow"


# Handler faults -----------------------------------------------------------------


class Fault(Exception):
    pass


class HandledFault(Exception):
    pass


@app.get("/fault/raise")
async def fault_raise(request):
    raise Fault("async-handler-secret")


@app.get("/fault/raise-sync")
def fault_raise_sync(request):
    raise Fault("sync-handler-secret")


@app.get("/fault/zero")
async def fault_zero(request):
    return {"x": 1 // 0}


@app.get("/fault/timeout")
async def fault_timeout(request):
    await asyncio.wait_for(asyncio.sleep(5), 0.01)


@app.get("/fault/cancelled")
async def fault_cancelled(request):
    # As a handler awaiting a task that someone else cancelled would see it.
    raise asyncio.CancelledError()


@app.get("/fault/stop-iteration")
async def fault_stop_iteration(request):
    raise StopIteration


@app.get("/fault/bad-return")
async def fault_bad_return(request):
    return object()


@app.get("/fault/bad-tuple")
async def fault_bad_tuple(request):
    return ("a", 200, {}, "extra")


@app.get("/fault/bad-status")
async def fault_bad_status(request):
    return "text", "two hundred"


@app.get("/fault/header-injection")
async def fault_header_injection(request):
    return Response("x", 200, {"X-Injected": "a\r\nSet-Cookie: evil=1"})


@app.get("/fault/handled")
async def fault_handled(request):
    raise HandledFault("handled")


@app.get("/fault/handler-raises")
async def fault_handler_raises(request):
    raise HandledFault("error-handler-raises")


@app.get("/fault/before")
async def fault_before(request):
    return "never"


@app.get("/fault/before-bad-return")
async def fault_before_bad_return(request):
    return "never"


@app.get("/fault/after")
async def fault_after(request):
    return "after"


@app.get("/fault/after-bad-return")
async def fault_after_bad_return(request):
    return "after"


@app.get("/fault/500-handler-raises")
async def fault_500_handler_raises(request):
    raise Fault("500-handler-raises")


@app.get("/fault/memory")
async def fault_memory(request):
    if not MICROPYTHON:
        raise MemoryError  # do not exhaust the test machine's memory
    hog = []
    while True:
        hog.append(bytearray(1024))


@app.before_request
async def before(request):
    request.marker = "set-by-before"
    if request.path == "/fault/before":
        raise Fault("before-hook-secret")
    if request.path == "/fault/before-bad-return":
        return {1, 2}
    return None


@app.after_request
async def after(request, response):
    if request.path == "/fault/after":
        raise Fault("after-hook-secret")
    if request.path == "/fault/after-bad-return":
        return object()
    response.headers["X-After"] = "ran"
    return None


@app.errorhandler(HandledFault)
async def handled_fault(request, exc):
    if request.path == "/fault/handler-raises":
        raise Fault("error-handler-secret")
    return {"handled": True}, 422


@app.errorhandler(500)
async def internal_error(request, exc):
    if request.path == "/fault/500-handler-raises":
        raise Fault("500-handler-secret")
    return {"error": "Internal Server Error", "by": "handler"}, 500


@app.errorhandler(404)
async def not_found(request, exc):
    if request.path.startswith("/fault/404-handler-raises"):
        raise Fault("404-handler-secret")
    return {"error": "Not Found"}, 404


# Streams ---------------------------------------------------------------------------


@app.get("/stream/ok")
async def stream_ok(request):
    async def parts():
        for i in range(3):
            yield "part%d;" % i

    return StreamingResponse(parts(), content_type="text/plain")


@app.get("/stream/fail-start")
async def stream_fail_start(request):
    async def parts():
        raise Fault("stream-start-secret")
        yield "never"

    return StreamingResponse(parts(), content_type="text/plain")


@app.get("/stream/fail-half")
async def stream_fail_half(request):
    async def parts():
        yield "first;"
        await asyncio.sleep(0.01)
        yield "second;"
        raise Fault("stream-half-secret")

    return StreamingResponse(parts(), content_type="text/plain")


@app.get("/stream/sync-fail-start")
async def stream_sync_fail_start(request):
    def parts():
        raise Fault("sync-stream-start-secret")
        yield "never"

    return StreamingResponse(parts(), content_type="text/plain")


@app.get("/stream/sync-fail-half")
async def stream_sync_fail_half(request):
    def parts():
        yield "first;"
        yield "second;"
        raise Fault("sync-stream-half-secret")

    return StreamingResponse(parts(), content_type="text/plain")


@app.get("/stream/bad-chunk")
async def stream_bad_chunk(request):
    async def parts():
        yield "first;"
        yield 12345  # neither str nor bytes

    return StreamingResponse(parts(), content_type="text/plain")


@app.get("/stream/endless")
async def stream_endless(request):
    async def parts():
        COUNTS["stream_started"] += 1
        try:
            n = 0
            while True:
                yield "tick %d\n" % n + "x" * 1000
                n += 1
                await asyncio.sleep(0)
        finally:
            COUNTS["stream_finally"] += 1

    return StreamingResponse(parts(), content_type="text/plain")


if len(sys.argv) > 2:
    app.static("/static", sys.argv[2])

app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
