"""Live dashboards (httpserver.hub) over real sockets, on CPython and MicroPython.

One producer, many viewers over SSE and WebSocket: the same sequence for
all, a stalled viewer closed at the write deadline without holding up the
others, bounded backlog, resume from Last-Event-ID, the SSE fields and
heartbeat, WebSocket keep-alive pings, and the heap each viewer costs.
"""

import asyncio
import http.client
import json
import socket
import threading
import time

import pytest
from conftest import REPO, as_on_a_board, start_server

# Heap each SSE viewer holds on MicroPython while it waits for the next
# message, the library run from source here: measured 3,024 bytes (2,832
# from .mpy, whose budget is in test_heap_budget.py).
PER_VIEWER = 3100

APPS = REPO / "host_tests" / "apps"
APP = APPS / "hub_app.py"


def hub_app(serve, heapsize=None, **options):
    return serve(APP, args=(json.dumps(options),), heapsize=heapsize)


def post(server, path, spec):
    status, _, body = server.request(
        "POST", path, body=json.dumps(spec), headers={"Content-Type": "application/json"}
    )
    assert status == 200, body
    return json.loads(body)


def publish(server, **spec):
    return post(server, "/publish", spec)


def stats(server):
    status, _, body = server.request("GET", "/stats")
    assert status == 200, body
    return json.loads(body)


def wait_until(condition, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


class Viewer:
    """An SSE client reading in a thread: each event as a dict of its fields
    (data lines joined by newlines), and the comments."""

    def __init__(self, server, path="/events", headers=None):
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        self.conn.request("GET", path, headers=headers or {})
        self.sock = self.conn.sock  # the connection lets go of it once the stream is open
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.events = []
        self.comments = 0
        self.retry = None
        self.ended = False
        if self.status == 200:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.body = self.response.read()

    def _read(self):
        fields, data = {}, []
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if data:
                        fields["data"] = "\n".join(data)
                        self.events.append(fields)
                    fields, data = {}, []
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(": ")
                    if name == "data":
                        data.append(value)
                    elif name == "retry":
                        self.retry = int(value)
                    else:
                        fields[name] = value
        except (OSError, ValueError, http.client.HTTPException):
            pass
        self.ended = True

    def ids(self):
        return [int(e["id"]) for e in self.events if "id" in e]

    def close(self):
        # A shutdown ends the reader's wait (closing would wait for its lock).
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self.status == 200:
            self.thread.join(5)
        self.conn.close()
        self.sock.close()


def joined(server, count):
    wait_until(lambda: stats(server)["clients"] == count, what="%d clients" % count)


# SSE -------------------------------------------------------------------------


def test_four_viewers_get_the_same_sequence_and_a_stalled_one_is_closed(serve):
    # A desktop-sized heap (MicroPython): the ring holds 16 messages of 64K.
    server = hub_app(serve, "8M", read_timeout=2.0, max_clients=5, backlog=16, max_connections=12)
    viewers = [Viewer(server) for _ in range(4)]
    # The fifth asks, then never reads: a small receive buffer fills at once.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    stalled.connect((server.host, server.port))
    stalled.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    joined(server, 5)
    refused = Viewer(server)  # a sixth: the hub is full
    assert refused.status == 503 and json.loads(refused.body) == {"error": "too many clients"}
    refused.close()
    # 4.5 MB: more than the kernel buffers for a client on loopback (its
    # send buffer grows to 4 MB), so that the fifth's writer blocks.
    sent = publish(server, count=70, size=64000, pause=0.01)
    ids = list(range(sent["first"], sent["last"] + 1))
    wait_until(lambda: all(v.ids() == ids for v in viewers), what="all messages")
    assert all(v.events == viewers[0].events for v in viewers)
    assert viewers[0].events[5]["data"] == "5 " + "x" * 64000
    # The four had it all while the stalled one was still there (its write
    # deadline, 2 s, not yet up): it held up neither them nor the publisher.
    assert stats(server)["clients"] == 5
    # ... and it is closed at its write deadline.
    wait_until(lambda: stats(server)["clients"] == 4, timeout=6, what="the stalled one closed")
    publish(server, count=1)
    wait_until(lambda: all(len(v.ids()) == len(ids) + 1 for v in viewers))
    stalled.close()
    for v in viewers:
        v.close()
    assert "Traceback" not in server.output()


def test_sse_fields_id_event_retry_and_multiline_data(serve):
    server = hub_app(serve, retry=1500)
    viewer = Viewer(server)
    assert viewer.response.getheader("Content-Type") == "text/event-stream"
    assert viewer.response.getheader("Cache-Control") == "no-cache"
    joined(server, 1)
    publish(server, text="one line", event="reading")
    publish(server, text="first\nsecond\r\nthird\rfourth")
    publish(server, text="")
    # An event name of two lines is refused (the handler's 500), and uses no id.
    status, _, _ = server.request(
        "POST", "/publish", body=json.dumps({"text": "x", "event": "a\nb"}).encode()
    )
    assert status == 500
    publish(server, text={"temp_c": 21.5})  # not text: sent as JSON
    wait_until(lambda: len(viewer.events) == 4)
    assert viewer.retry == 1500
    first, second, third, fourth = viewer.events
    assert first == {"id": "1", "event": "reading", "data": "one line"}
    assert second == {"id": "2", "data": "first\nsecond\nthird\nfourth"}
    assert third == {"id": "3", "data": ""}
    assert fourth == {"id": "4", "data": '{"temp_c": 21.5}'}
    viewer.close()


def test_idle_stream_gets_a_comment_heartbeat(serve):
    server = hub_app(serve, keepalive=0.3)
    viewer = Viewer(server)
    wait_until(lambda: viewer.comments >= 2, timeout=3, what="two heartbeats")
    assert viewer.events == []  # comments only: no event reaches the page
    viewer.close()


def test_reconnecting_viewer_resumes_from_last_event_id(serve):
    server = hub_app(serve, backlog=4)
    publish(server, count=6)  # ids 1..6: the ring keeps 3..6
    resumed = Viewer(server, headers={"Last-Event-ID": "4"})
    too_old = Viewer(server, headers={"Last-Event-ID": "1"})
    fresh = Viewer(server)
    from_the_future = Viewer(server, headers={"Last-Event-ID": "99"})  # an earlier boot's
    joined(server, 4)
    publish(server, count=1)
    wait_until(lambda: 7 in fresh.ids() and 7 in resumed.ids() and 7 in too_old.ids())
    assert resumed.ids() == [5, 6, 7]
    assert too_old.ids() == [3, 4, 5, 6, 7]  # what the ring still had
    assert fresh.ids() == [7]
    wait_until(lambda: from_the_future.ids() == [7])
    for v in (resumed, too_old, fresh, from_the_future):
        v.close()


def test_new_viewer_gets_the_latest_replayed_first(serve):
    server = hub_app(serve, backlog=4, replay=2)
    publish(server, count=3)
    viewer = Viewer(server)
    joined(server, 1)
    publish(server, count=1)
    wait_until(lambda: viewer.ids() == [2, 3, 4])
    viewer.close()


def test_viewer_behind_loses_its_oldest_or_is_disconnected(serve):
    server = hub_app(serve, backlog=4)
    dropping = Viewer(server)
    strict = Viewer(server, "/strict")
    joined(server, 1)
    time.sleep(0.2)  # the strict viewer is waiting too
    # Ten at once: no viewer runs in between, so both are 10 behind.
    publish(server, count=10)
    publish(server, count=10, hub="strict")
    wait_until(lambda: dropping.ids() == [7, 8, 9, 10])
    wait_until(lambda: strict.ended, what="the strict hub to end the stream")
    assert strict.ids() == []
    dropping.close()


# WebSocket -------------------------------------------------------------------


websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402


def ws_url(server, path="/events"):
    return "ws://%s:%d%s" % (server.host, server.port, path)


def test_websocket_viewer_receives_and_its_messages_reach_the_app(serve):
    server = hub_app(serve, keepalive=0.2)

    async def talk():
        async with connect(ws_url(server)) as ws:
            await ws.send("led on")
            wait_until(lambda: stats(server)["clients"] == 1)
            publish(server, text="hello")
            publish(server, text={"temp": 21.5})
            publish(server, text="two\nlines", event="named")  # the data alone
            got = [await ws.recv(), await ws.recv(), await ws.recv()]
            # Answering the pings (the library does), it stays through several.
            await asyncio.sleep(1.0)
            publish(server, text="still here")
            got.append(await ws.recv())
            return got

    got = asyncio.run(asyncio.wait_for(talk(), 10))
    assert got == ["hello", '{"temp": 21.5}', "two\nlines", "still here"]
    assert stats(server)["received"] == ["led on"]
    wait_until(lambda: stats(server)["clients"] == 0, what="the closed client to leave")


def ws_handshake(server, path):
    sock = socket.create_connection((server.host, server.port), timeout=5)
    sock.sendall(
        (
            "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % path
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def read_until_closed(sock, timeout=5):
    """What the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("path", ["/events", "/ws"])
def test_websocket_client_that_ignores_pings_is_closed(serve, path):
    server = hub_app(serve, keepalive=0.3, ws_ping_interval=0.3)
    sock = ws_handshake(server, path)
    started = time.monotonic()
    data = read_until_closed(sock)
    waited = time.monotonic() - started
    sock.close()
    # Pinged (0x89, empty), not answered, closed at the next beat.
    assert data.startswith(b"\x89\x00"), data
    assert 0.4 < waited < 3, waited
    if path == "/ws":
        # The handler, waiting in receive(), learned it at once: 1006.
        wait_until(lambda: stats(server)["ws_closes"] == [1006])
    else:
        wait_until(lambda: stats(server)["clients"] == 0)


# Heap on MicroPython ---------------------------------------------------------


@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_heap_per_viewer_on_micropython(serve):
    server = hub_app(serve, max_clients=8)
    first = Viewer(server)  # the hub's one-time costs (its ticker, the Event) come with it
    joined(server, 1)
    publish(server, text="x" * 200)
    wait_until(lambda: len(first.events) == 1)
    base = stats(server)["alloc"]
    viewers = [Viewer(server) for _ in range(4)]
    joined(server, 5)
    publish(server, text="y" * 200)  # each has sent one message and waits again
    wait_until(lambda: all(len(v.events) == 1 for v in viewers))
    per_viewer = (stats(server)["alloc"] - base) // 4
    assert 0 < per_viewer <= PER_VIEWER, per_viewer
    for v in viewers + [first]:
        v.close()


@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_publish_to_eight_viewers_in_a_100k_heap(runtime, tmp_path):
    board = as_on_a_board(runtime, tmp_path / "board")
    server = start_server(
        runtime, APPS / "hub_small_app.py", tmp_path, env=board["env"], heapsize="100K"
    )
    try:
        viewers = [Viewer(server) for _ in range(8)]
        wait_until(lambda: all(len(v.ids()) == 40 for v in viewers), timeout=10)
        assert all(v.events == viewers[0].events for v in viewers)
        assert viewers[0].events[-1]["data"] == "39 " + "x" * 160
        wait_until(lambda: "published to 8" in server.output())
        for v in viewers:
            v.close()
        assert server.alive()
    finally:
        output = server.stop()
    assert "MemoryError" not in output and "Traceback" not in output, output
