# MicroPython only: the floor of the serving heap on this port. The five routes of
# hs_app.py on bare asyncio streams, with no library and no checks: the request line
# is split on spaces, only Content-Length is read from the head, nothing is validated
# or decoded, and there are no limits or timeouts. About the least heap any HTTP
# server on this port can need for the same workload.
# Usage: micropython mp_raw_app.py PORT
import asyncio
import gc
import json
import sys


def answer(method, path, body):
    if path == b"/hello":
        return b"Hello, World!"
    if path.startswith(b"/users/"):
        return b'{"id": %d}' % int(path[7:])
    if path.startswith(b"/search?q="):
        return b'{"q": "%s"}' % path[10:]
    if method == b"POST" and path == b"/echo":
        return json.dumps(json.loads(body)).encode()
    if path.startswith(b"/mem"):
        if path.endswith(b"peek"):
            return b'{"alloc": %d}' % gc.mem_alloc()
        gc.collect()
        if path.endswith(b"off"):
            gc.disable()
        else:
            gc.enable()
        return b'{"alloc": %d, "free": %d}' % (gc.mem_alloc(), gc.mem_free())
    return None


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, path, _ = line.split(b" ", 2)
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                name = name.lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = b"close" in value.lower()
            body = await reader.readexactly(length) if length else b""
            out = answer(method, path, body)
            status = b"200 OK" if out is not None else b"404 Not Found"
            out = out or b""
            # One write: a second small one would wait for the client's delayed ACK.
            writer.write(
                b"HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n%s"
                % (status, len(out), b"Connection: close\r\n" if close else b"", out)
            )
            await writer.drain()
            if close:
                break
    except (OSError, ValueError):
        pass
    await writer.aclose()


async def main(port):
    await asyncio.start_server(serve, "127.0.0.1", port)
    print("Serving on http://127.0.0.1:%d/" % port)
    while True:
        await asyncio.sleep(3600)


asyncio.run(main(int(sys.argv[1])))
