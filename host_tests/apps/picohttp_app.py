# A picohttp program exercising the whole API, on both runtimes.
#   picohttp_app.py MODE   with MODE one of:
#   threads (default), sequential (threads=False), async, async-sequential,
#   deferred (start=False, then start()), background (block=False)
import json
import sys
import time

from picohttp import *

MICROPYTHON = sys.implementation.name == "micropython"
MODE = sys.argv[1] if len(sys.argv) > 1 else "threads"
calls = [0]
ticks = [0]


def handler(request, response, tag, extra=None):
    calls[0] += 1
    first = request.path[0]
    if first == "echo":
        response.headers["Content-Type"] = "application/json"
        data = request.data
        if isinstance(data, bytes):
            data = {"bytes": list(data)}
        response.data = json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "protocol": request.protocol,
                "host": request.headers.get("Host"),
                "x_test": request.headers.get("X-TEST"),
                "has_x_test": "x-test" in request.headers,
                "data": data,
                "args": [tag, extra],
                "calls": calls[0],
            }
        )
    elif first == "calls":
        response.data = str(calls[0])
    elif first == "json":
        try:
            value = json.loads(request.data)
        except (TypeError, ValueError):
            response.status = 400
            response.data = "request body is not valid JSON\n"
            return
        response.data = json.dumps({"got": value})
    elif first == "crash":
        raise RuntimeError("handler-failed-here")
    elif first == "bytes":
        response.data = b"\x00\x01\xfe\xff"
    elif first == "unicode":
        response.data = "h\u00e9llo"
    elif first == "teapot":
        response.protocol = "HTTP/1.1"
        response.status = 418
        response.headers["X-Pot"] = "short"
        response.headers["Connection"] = "keep-alive"
        response.data = "tea"
    elif first == "badheader":
        response.headers["X-Bad"] = "a\r\nInjected: yes"
        response.data = "never"
    elif first == "baddata":
        response.data = {"not": "text"}
    elif first == "sleep":
        time.sleep(float(request.query.get("s", "0.4")))
        response.data = "slept"
    elif first == "ticks":
        response.data = str(ticks[0])
    else:
        response.status = 404


async def async_handler(request, response, tag, extra=None):
    import asyncio

    if request.path[0] == "sleep":
        await asyncio.sleep(float(request.query.get("s", "0.4")))
        response.data = "slept"
        return
    handler(request, response, tag, extra)


if MODE == "threads":
    HttpServer(0, handler, args=("t", 7))
elif MODE == "sequential":
    HttpServer(0, handler, ("s",), threads=False)
elif MODE == "async":
    HttpServer(0, async_handler, ("a",))
elif MODE == "async-sequential":
    HttpServer(0, async_handler, ("as",), threads=False)
elif MODE == "deferred":
    server = HttpServer(0, handler, ("d",), start=False)
    print("constructed, not started")
    server.start()
elif MODE == "background":
    if MICROPYTHON:
        # On a board the program runs asyncio; the server is one of its tasks.
        import asyncio

        async def main():
            HttpServer(0, handler, ("bg",), block=False)
            print("start returned")
            while True:
                ticks[0] += 1
                await asyncio.sleep(0.05)

        asyncio.run(main())
    else:
        server = HttpServer(0, handler, ("bg",), block=False)
        print("start returned on port %d" % server.port)
        while True:
            ticks[0] += 1
            time.sleep(0.05)
