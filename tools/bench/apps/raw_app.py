# CPython only: the ceiling of pure-Python asyncio on this machine. Answers every request
# with a fixed "Hello, World!" response; keeps the connection open unless the client
# sends "Connection: close". No routing, no parsing beyond finding the end of the head.
# Usage: python raw_app.py PORT [protocol|streams]
import asyncio
import sys

BODY = b"Hello, World!"
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
    % len(BODY)
)
KEEP = HEAD + b"\r\n" + BODY
CLOSE = HEAD + b"Connection: close\r\n\r\n" + BODY


class Proto(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.buf = b""

    def data_received(self, data):
        buf = self.buf + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head, buf = buf[:end], buf[end + 4 :]
            if b"connection: close" in head.lower():
                self.t.write(CLOSE)
                self.t.close()
                return
            self.t.write(KEEP)
        self.buf = buf


async def serve_streams(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if b"connection: close" in head.lower():
                writer.write(CLOSE)
                await writer.drain()
                break
            writer.write(KEEP)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def main(port, mode):
    loop = asyncio.get_running_loop()
    if mode == "streams":
        server = await asyncio.start_server(serve_streams, "127.0.0.1", port)
    else:
        server = await loop.create_server(Proto, "127.0.0.1", port)
    print("Serving on http://127.0.0.1:%d/" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "protocol"))
