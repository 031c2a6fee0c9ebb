"""WebSocket routes (httpserver.websocket) with a real client library
(`websockets`) against our server on CPython and MicroPython, and against
uvicorn serving the same app; malformed frames with a raw socket.
"""

import asyncio
import json
import os
import socket
import time

import pytest

websockets = pytest.importorskip("websockets")
from conftest import REPO, RUNTIMES, start_server  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

APPS = REPO / "host_tests" / "apps"
APP = APPS / "ws_app.py"
SERVERS = RUNTIMES + ("uvicorn",)


def start(kind, cwd):
    if kind == "uvicorn":
        server = start_server(
            "cpython", APPS / "asgi_serve.py", cwd, args=("ws_app",), pythonpath=(APPS,)
        )
    else:
        server = start_server(kind, APP, cwd)
    server.kind = kind
    return server


@pytest.fixture(scope="module", params=SERVERS)
def server(request, tmp_path_factory):
    running = start(request.param, tmp_path_factory.mktemp("ws"))
    yield running
    running.stop()


@pytest.fixture(scope="module", params=RUNTIMES)
def ours(request, tmp_path_factory):
    # Our own server only: frames from a raw socket reach our parser.
    running = start(request.param, tmp_path_factory.mktemp("ws_raw"))
    yield running
    output = running.stop()
    assert "MemoryError" not in output, output


def run(coroutine, timeout=10):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def url(server, path):
    return "ws://127.0.0.1:%d%s" % (server.port, path)


async def echo_once(server, message):
    async with connect(url(server, "/ws/echo")) as ws:
        await ws.send(message)
        return await ws.recv()


def assert_goes_on(server):
    assert run(echo_once(server, "still here")) == "still here"


# With the client library --------------------------------------------------------


def test_echo_text_binary_and_fragments(server):
    async def talk():
        async with connect(url(server, "/ws/echo")) as ws:
            results = []
            for message in ("hello", "héllo ☃", b"\x00\xff" * 600, "", b""):
                await ws.send(message)
                results.append(await ws.recv())
            await ws.send(["frag", "men", "ted"])  # one message in three frames
            results.append(await ws.recv())
            await ws.send([b"\x01" * 700, b"\x02" * 700])
            results.append(await ws.recv())
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            return results

    assert run(talk()) == [
        "hello",
        "héllo ☃",
        b"\x00\xff" * 600,
        "",
        b"",
        "fragmented",
        b"\x01" * 700 + b"\x02" * 700,
    ]


def test_server_ping_is_answered_by_the_client(server):
    async def talk():
        async with connect(url(server, "/ws/pinger")) as ws:
            await ws.send("x")
            return await ws.recv()

    assert run(talk()) == "got x"


def test_path_params_and_subprotocol(server):
    async def talk():
        async with connect(
            url(server, "/ws/room/kitchen/3"), subprotocols=["v0.test", "v1.test"]
        ) as ws:
            return json.loads(await ws.recv()), ws.subprotocol

    data, chosen = run(talk())
    assert data == {"name": "kitchen", "n": 3, "scheme": "http", "subprotocol": "v1.test"}
    assert chosen == "v1.test"


def test_oversized_message_is_closed_with_1009_and_server_goes_on(server):
    async def talk(message):
        async with connect(url(server, "/ws/echo"), max_size=None) as ws:
            await ws.send("small")
            assert await ws.recv() == "small"
            await ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code

    assert run(talk("x" * 2049)) == 1009
    assert run(talk([b"y" * 1500, b"y" * 1500])) == 1009  # too big only once reassembled
    assert_goes_on(server)


def test_server_closes_with_its_code_and_reason(server):
    async def talk():
        async with connect(url(server, "/ws/closer")) as ws:
            await ws.send("hi")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code, closed.value.rcvd.reason

    assert run(talk()) == (4001, "bye hi")


def test_client_close_code_reaches_the_handler(server):
    async def talk():
        async with connect(url(server, "/ws/record")) as ws:
            await ws.send("one")
            await ws.close(4000, "done here")

    run(talk())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = json.loads(server.request("GET", "/events")[2])["events"]
        if [4000, "done here"] in events:
            break
        time.sleep(0.05)
    assert [4000, "done here"] in events


def test_handler_exception_closes_with_1011(server):
    async def talk():
        async with connect(url(server, "/ws/crash")) as ws:
            await ws.send("boom")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code

    assert run(talk()) == 1011
    time.sleep(0.2)
    assert "ws-handler-secret" in server.output()
    assert_goes_on(server)


def test_before_request_hook_can_refuse_the_upgrade(server):
    async def refused():
        with pytest.raises(InvalidStatus) as error:
            async with connect(url(server, "/ws/private")):
                pass
        return error.value.response.status_code

    async def allowed():
        async with connect(url(server, "/ws/private?token=ok")) as ws:
            return await ws.recv()

    assert run(refused()) == 403
    assert run(allowed()) == "welcome"


def test_not_an_upgrade(server):
    status, headers, _ = server.request("GET", "/ws/echo")
    assert status == 426 and headers["upgrade"] == "websocket"
    assert server.request("POST", "/ws/echo")[0] == 405
    assert server.request("GET", "/plain")[2] == b"plain"


def test_many_connections_one_after_another(server):
    async def talk():
        for i in range(10):
            async with connect(url(server, "/ws/echo")) as ws:
                await ws.send("n%d" % i)
                assert await ws.recv() == "n%d" % i

    run(talk(), 20)


# Raw frames against our own parser --------------------------------------------------

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3's example


def handshake(server, path="/ws/echo", extra=b""):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: "
        + KEY
        + b"\r\nSec-WebSocket-Version: 13\r\n"
        + extra
        + b"\r\n"
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return sock, head, rest


def client_frame(opcode, payload=b"", fin=True, masked=True, rsv=0, length=None):
    first = (0x80 if fin else 0) | rsv | opcode
    size = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = bytes((first, mask_bit | size))
    elif size < 65536:
        head = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if masked:
        key = os.urandom(4)
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


class Frames:
    """Reads the server's (unmasked) frames from a raw socket."""

    def __init__(self, sock, data=b""):
        self.sock = sock
        self.data = data

    def _need(self, count):
        while len(self.data) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.data += chunk

    def next(self):
        self._need(2)
        first, second = self.data[0], self.data[1]
        assert not second & 0x80, "server frames are never masked"
        length, at = second & 0x7F, 2
        if length == 126:
            self._need(4)
            length, at = int.from_bytes(self.data[2:4], "big"), 4
        elif length == 127:
            self._need(10)
            length, at = int.from_bytes(self.data[2:10], "big"), 10
        self._need(at + length)
        payload = self.data[at : at + length]
        self.data = self.data[at + length :]
        return first & 0x80, first & 0x0F, payload

    def close_code(self):
        """Skip to the close frame and return its code."""
        while True:
            _, opcode, payload = self.next()
            if opcode == 8:
                return int.from_bytes(payload[:2], "big") if payload else 1005


def test_handshake_accept_value_and_headers(ours):
    sock, head, _ = handshake(ours)
    with sock:
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        lines = head.lower().split(b"\r\n")
        assert b"upgrade: websocket" in lines and b"connection: upgrade" in lines
        assert b"sec-websocket-accept: " + ACCEPT.lower() in lines
        assert b"content-length" not in head.lower() and b"connection: close" not in head.lower()


def test_conflicting_version_fields_are_refused(ours):
    sock, head, _ = handshake(ours, extra=b"Sec-WebSocket-Version: 8\r\n")
    with sock:
        assert head.startswith(b"HTTP/1.1 426 "), head


@pytest.mark.parametrize(
    "request_head, status",
    [
        (
            b"GET /ws/echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        (
            b"GET /ws/echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        (
            b"GET /ws/echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 12\r\n\r\n",
            426,
        ),
        (
            b"GET /ws/echo HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        (
            b"GET /ws/echo HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n",
            426,
        ),
    ],
    ids=["short-key", "no-key", "version-12", "http-1.0", "upgrade-h2c"],
)
def test_bad_handshakes(ours, request_head, status):
    raw = ours.raw(request_head, timeout=3)
    assert raw.startswith(b"HTTP/1.1 %d " % status), raw
    if status == 426 and b"Version: 12" in request_head:
        assert b"Sec-WebSocket-Version: 13" in raw


@pytest.mark.parametrize(
    "frames, code",
    [
        ([client_frame(1, b"unmasked", masked=False)], 1002),
        ([client_frame(1, b"rsv", rsv=0x40)], 1002),
        ([client_frame(3, b"opcode 3")], 1002),
        ([client_frame(11, b"opcode 11")], 1002),
        ([client_frame(9, b"ping", fin=False)], 1002),
        ([client_frame(9, b"p" * 126)], 1002),
        ([client_frame(0, b"continuation first")], 1002),
        ([client_frame(1, b"start", fin=False), client_frame(1, b"again")], 1002),
        ([client_frame(8, b"\x03")], 1002),
        ([client_frame(8, (1005).to_bytes(2, "big"))], 1002),
        ([client_frame(8, (999).to_bytes(2, "big"))], 1002),
        ([client_frame(8, (1000).to_bytes(2, "big") + b"\xff")], 1007),
        ([client_frame(1, b"bad \xff utf-8")], 1007),
        ([client_frame(1, b"surrogate \xed\xa0\x80")], 1007),
        ([client_frame(1, b"overlong \xc0\x80")], 1007),
        ([client_frame(1, b"split \xe2\x98", fin=False), client_frame(0, b"")], 1007),
        (
            [bytes((0x81, 0xFF)) + b"\x80" + bytes(7) + os.urandom(4)],
            1002,
        ),  # 64-bit length, MSB set
        ([bytes((0x82, 0xFF)) + (1 << 40).to_bytes(8, "big") + os.urandom(4)], 1009),
        ([client_frame(2, b"z" * 2049)], 1009),
        (
            [
                client_frame(2, b"z" * 1500, fin=False),
                client_frame(9, b"mid"),
                client_frame(0, b"z" * 1500),
            ],
            1009,
        ),
    ],
    ids=[
        "unmasked",
        "rsv-bit",
        "opcode-3",
        "opcode-11",
        "fragmented-ping",
        "long-ping",
        "continuation-first",
        "text-inside-fragments",
        "close-1-byte",
        "close-1005",
        "close-999",
        "close-bad-utf8-reason",
        "bad-utf8",
        "surrogate",
        "overlong",
        "truncated-utf8-across-fragments",
        "length-msb-set",
        "declared-1TiB",
        "too-big",
        "too-big-across-fragments",
    ],
)
def test_malformed_frames_get_the_right_close_code(ours, frames, code):
    sock, head, rest = handshake(ours)
    with sock:
        assert b" 101 " in head
        for data in frames:
            sock.sendall(data)
        assert Frames(sock, rest).close_code() == code
    assert_goes_on(ours)


def test_control_frames_inside_a_fragmented_message(ours):
    sock, head, rest = handshake(ours)
    with sock:
        sock.sendall(
            client_frame(1, b"hel", fin=False)
            + client_frame(9, b"mid-ping")
            + client_frame(10, b"unsolicited pong")
            + client_frame(0, b"lo", fin=False)
            + client_frame(0, b" world")
        )
        frames = Frames(sock, rest)
        assert frames.next() == (0x80, 10, b"mid-ping")
        assert frames.next() == (0x80, 1, b"hello world")
        # The full closing handshake: the server echoes our code and then
        # closes the TCP connection.
        sock.sendall(client_frame(8, (1000).to_bytes(2, "big") + b"bye"))
        assert frames.next() == (0x80, 8, (1000).to_bytes(2, "big"))
        with pytest.raises(EOFError):
            frames.next()


def test_big_messages_in_extended_lengths(ours):
    sock, head, rest = handshake(ours)
    with sock:
        frames = Frames(sock, rest)
        for size in (125, 126, 2000):
            sock.sendall(client_frame(2, bytes(range(256)) * (size // 256) + b"e" * (size % 256)))
            _, opcode, payload = frames.next()
            assert (opcode, len(payload)) == (2, size)


def test_a_message_arrives_while_another_task_waits_to_send(ours):
    # The client reads nothing, so the handler's sender waits for room to
    # write; the handler's receive() must still get the client's message.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", ours.port))
    sock.sendall(
        b"GET /ws/flood HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: "
        + KEY
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    time.sleep(0.5)  # the sender fills the buffers and waits
    sock.sendall(client_frame(0x1, b"stop"))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = json.loads(ours.request("GET", "/events")[2])["events"]
            if ["flood", "stop"] in got:
                break
            time.sleep(0.1)
        assert ["flood", "stop"] in got
    finally:
        sock.close()


def test_dropped_connection_is_1006_for_the_handler(ours):
    sock, head, rest = handshake(ours, "/ws/record")
    sock.sendall(client_frame(1, b"then vanish"))
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = json.loads(ours.request("GET", "/events")[2])["events"]
        if any(event[0] == 1006 for event in events):
            break
        time.sleep(0.05)
    assert any(event[0] == 1006 for event in events), events


def test_shutdown_closes_open_websockets_with_1001(runtime, tmp_path):
    server = start(runtime, tmp_path)
    try:

        async def talk():
            async with connect(url(server, "/ws/echo")) as ws:
                await ws.send("before")
                assert await ws.recv() == "before"
                await asyncio.to_thread(server.request, "POST", "/shutdown")
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                return closed.value.rcvd.code

        assert run(talk()) == 1001
        assert server.wait(10) == 0
    finally:
        server.stop()


def test_micropython_max_size_messages_in_a_small_heap(tmp_path):
    # As deployed: the library compiled with mpy-cross, the app from source,
    # a 144K heap; two connections open, 4 KiB (the board default maximum)
    # messages both ways, text and binary, whole and fragmented.
    import shutil
    import subprocess

    if shutil.which("mpy-cross") is None:
        pytest.skip("mpy-cross is not installed")
    package = tmp_path / "lib" / "httpserver"
    package.mkdir(parents=True)
    for source in (REPO / "lib" / "httpserver").glob("*.py"):
        subprocess.run(
            ["mpy-cross", "-o", str(package / (source.stem + ".mpy")), str(source)], check=True
        )
    server = start_server(
        "micropython",
        APP,
        tmp_path,
        heapsize="144K",
        env={"MICROPYPATH": ".frozen:%s" % (tmp_path / "lib")},
    )

    async def talk():
        first = await connect(url(server, "/ws/default-limit"), max_size=None)
        second = await connect(url(server, "/ws/default-limit"), max_size=None)
        for round in range(6):
            for index, ws in enumerate((first, second)):
                message = bytes([index]) * 4096 if round % 2 else "é" * 2048
                await ws.send(message)
                assert await ws.recv() == message
        await first.send(["a" * 2000, "b" * 2096])
        assert await first.recv() == "a" * 2000 + "b" * 2096
        await first.send("c" * 4097)
        with pytest.raises(ConnectionClosed):
            await first.recv()
        await second.close()
        return first.close_code

    try:
        assert run(talk()) == 1009
    finally:
        output = server.stop()
    assert "MemoryError" not in output and "Traceback" not in output, output
