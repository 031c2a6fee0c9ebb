"""Issue 7, point 4: memory pressure on MicroPython, in the smallest board's heap.

The unix port runs host_tests/apps/hardening_memory_app.py with -X heapsize
set to the smallest heap_free in boards/*/board.json (100K, the ESP32), and
the library laid out as tools/deploy.py copies it to a board: compiled with
mpy-cross (compiling it from source needs more heap than such a board has).
The app keeps the library's defaults for max_connections and max_body_size.

Under pressure (max_connections clients at once, bodies up to max_body_size,
a handler that allocates until MemoryError) every client gets its answer, a
503 with Connection: close, or a closed connection, never a wrong answer or
a 500; the server serves the next request; and the heap (gc.mem_alloc()
after gc.collect(), read by a route) returns to its idle level, also after
1000 requests on a kept-alive connection.

The unix port is 64-bit: the same objects take more room than on the 32-bit
boards, so this is stricter than the board itself.
"""

import binascii
import json
import socket
import threading
import time

import deploy  # its mpy-cross build, as for a board (tools/ is on the path: conftest)
import pytest
from conftest import LIB, REPO, start_server
from test_hardening_common import APPS, ESCAPE_MARKERS, Exchange, exchange, read_all

APP = APPS / "hardening_memory_app.py"
# Growth of the idle heap tolerated (bytes). Some tables grow once and keep
# their size (MicroPython's dicts and sets never shrink) and the collector is
# conservative; a leak of even one 32-byte block per request or connection
# would be 32 KiB per 1000.
LEAK_TOLERANCE = 2048
# Bodies up to this size are taken one at a time on the smallest board, also
# after the heap has seen heavy use (bytes). Measured on the 64-bit unix port
# at 100K: 12 KiB with Content-Length and 8 KiB chunked on an idle server,
# less once the heap is fragmented; larger ones get a 503.
BODY_FLOOR = 4096
# The same for chunked bodies, measured again with Core v2: after the warm-up
# has loaded every module a board may need, a 4 KiB chunked body finds no
# 4 KiB hole for its pieces' join in about one run of four (the heap needs to
# shrink: code in flash, issue 15); 2 KiB always does.
CHUNKED_BODY_FLOOR = 2048
# Each of max_connections clients at once can send a body this large (bytes).
# With 1 KiB each, the 64-bit port's heap is at times too fragmented for one
# or two of the eight bodies (measured: 55% of rounds all served, 92% of
# requests): those get a 503, which the next test allows.
CONCURRENT_BODY = 512


def smallest_board():
    boards = []
    for path in (REPO / "boards").glob("*/board.json"):
        info = json.loads(path.read_text())
        if "heap_free" in info:
            boards.append(
                (int(info["heap_free"]), int(info.get("max_connections", 8)), info["board"])
            )
    assert boards, "no boards/*/board.json with heap_free"
    return min(boards)


HEAP, MAX_CONNECTIONS, BOARD = smallest_board()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory")
    mpy_cross = deploy.find_mpy_cross()
    deploy.build(deploy.source_files(LIB, None, ("*cpython*.py",)), root, mpy_cross)
    assert (root / "lib" / "httpserver" / "server.mpy").exists()
    # MICROPYPATH holds the compiled library only (relative, as on a board).
    running = start_server(
        "micropython",
        APP,
        root,
        env={"MICROPYPATH": ".frozen:lib"},
        heapsize="%dK" % (HEAP // 1024),
    )
    running.runtime = "micropython"
    yield running
    running.stop()


def ask(server, data, timeout=5.0):
    return exchange(server.port, data, timeout=timeout)


def get(server, path):
    result = ask(server, b"GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % path.encode())
    assert result.responses and result.responses[0].complete, (path, result)
    return result.responses[0]


def mem(server):
    reply = get(server, "/mem")
    assert reply.status == 200, reply
    return reply.json()


def post(size, path=b"/body", chunked=False, close=True):
    body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    if chunked:
        payload = (
            b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
                for i in range(0, len(body), 4096)
            )
            + b"0\r\n\r\n"
        )
        framing = b"Transfer-Encoding: chunked\r\n"
    else:
        payload = body
        framing = b"Content-Length: %d\r\n" % size
    head = b"POST %s HTTP/1.1\r\nHost: h\r\n%s%s\r\n" % (
        path,
        framing,
        b"Connection: close\r\n" if close else b"",
    )
    return head + payload, {"length": size, "crc": binascii.crc32(body)}


def clean(result, expected=None):
    """The kinds of answer allowed under memory pressure: 'ok' (exactly the
    expected answer), '503' (complete, Connection: close, then the close),
    'closed' (nothing, then the close). Anything else is returned as is."""
    if result.data == b"" and result.ended in ("eof", "reset"):
        return "closed"
    if result.statuses == [503]:
        reply = result.responses[0]
        if (
            reply.complete
            and reply.headers.get("connection") == "close"
            and result.ended in ("eof", "reset")
        ):
            return "503"
    if (
        len(result.responses) == 1
        and result.responses[0].status == 200
        and result.responses[0].complete
    ):
        if expected is None or result.responses[0].json() == expected:
            return "ok"
    return "unclean: %r" % (result,)


def at_once(server, requests, timeout=8.0):
    """Send each request on its own connection, all at the same time."""
    results = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def one(index):
        start.wait()
        results[index] = ask(server, requests[index], timeout=timeout)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return results


def serves(server):
    reply = get(server, "/ok")
    return (reply.status, reply.body) == (200, b"ok")


@pytest.fixture(scope="module")
def idle(server):
    """The idle heap, after every kind of request has run once (first uses load
    modules and fill caches for good) and after a burst of clients (asyncio's
    and the server's tables grow to the most connections seen, and MicroPython
    never shrinks a dict or set)."""
    at_once(server, [post(512)[0] for _ in range(3 * MAX_CONNECTIONS)])
    for data in (
        b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n",
        post(1000)[0],
        post(1000, chunked=True)[0],
        b"GET /query?a=1 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /big?n=100 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /hog HTTP/1.1\r\nHost: h\r\n\r\n",
        b"BAD\r\n\r\n",
        # Bytes that cannot begin a request: their check loads on first use.
        b"\x16\x03\x01\x00\xa5\x01\x00",
        b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n[]",
    ):
        ask(server, data)
    first = mem(server)
    return first


def assert_back_to_idle(server, idle, context):
    """The heap is back at its idle level. A conservative collector may keep
    freed blocks alive for a while through stale pointers (on a stack, or the
    last exception's traceback), so a few plain requests may pass first; a
    leak stays whatever is done."""
    readings = []
    for _ in range(5):
        now = mem(server)
        readings.append(now["alloc"])
        if now["connections"] == 1 and now["alloc"] - idle["alloc"] <= LEAK_TOLERANCE:
            return
        for _ in range(3):
            serves(server)
        time.sleep(0.05)
    assert now["connections"] == 1, "%s: connections left open: %r" % (context, now)
    assert now["alloc"] - idle["alloc"] <= LEAK_TOLERANCE, (
        "%s: the idle heap grew from %d to %r bytes" % (context, idle["alloc"], readings)
    )


def test_library_is_loaded_as_mpy(server):
    where = get(server, "/where").json()["file"]
    assert where.endswith("server.mpy"), where


def test_idle_heap_leaves_room(server, idle):
    assert idle["alloc"] + idle["free"] <= HEAP + 4096, idle  # the cap is in force
    assert idle["free"] >= HEAP // 4, "at idle only %d of %d bytes are free" % (idle["free"], HEAP)


def hold_then_finish(server, size, count):
    """count clients send a head and half of a size-byte body, all holding their
    connection (and the server's buffers) at once; then a newcomer knocks; then
    they all send the rest at the same moment. Returns (kinds, newcomer)."""
    requests = [post(size) for _ in range(count)]
    socks = []
    try:
        for data, _ in requests:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=8)
            sock.sendall(data[: len(data) - size // 2])
            socks.append(sock)
        time.sleep(0.2)
        newcomer = ask(server, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", timeout=2)
        results = [None] * count
        barrier = threading.Barrier(count)

        def finish(index):
            barrier.wait()
            sock = socks[index]
            data = requests[index][0]
            try:
                sock.sendall(data[len(data) - size // 2 :])
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            results[index] = _drain(sock)

        threads = [threading.Thread(target=finish, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
    finally:
        for sock in socks:
            sock.close()
    kinds = [clean(result, r[1]) for result, r in zip(results, requests)]
    return kinds, newcomer


def _drain(sock):
    start = time.monotonic()
    data, ended = read_all(sock, start + (sock.gettimeout() or 15))
    return Exchange(data, ended, time.monotonic() - start)


def test_connections_up_to_the_cap_at_once(server, idle):
    # max_connections clients, each half way through a small body: all are
    # served, and a newcomer past the cap gets a 503 or is turned away.
    kinds, newcomer = hold_then_finish(server, CONCURRENT_BODY, MAX_CONNECTIONS)
    assert kinds == ["ok"] * MAX_CONNECTIONS, kinds
    assert clean(newcomer) in ("503", "closed"), newcomer
    assert serves(server)
    assert_back_to_idle(server, idle, "after %d clients at once" % MAX_CONNECTIONS)


@pytest.mark.parametrize("size", [1024, 2048, 8192])
def test_connections_up_to_the_cap_with_bodies_that_may_not_all_fit(server, idle, size):
    # Together (and with the heap fragmented by so many connections) these do
    # not all fit: each is answered or refused cleanly. A client refused while
    # the others were still sending frees its place, so the newcomer may be
    # served too.
    kinds, newcomer = hold_then_finish(server, size, MAX_CONNECTIONS)
    assert all(k in ("ok", "503", "closed") for k in kinds), kinds
    assert clean(newcomer) in ("ok", "503", "closed"), newcomer
    assert serves(server)
    assert_back_to_idle(
        server,
        idle,
        "after %d clients with %d-byte bodies at once: %r" % (MAX_CONNECTIONS, size, kinds),
    )


def test_more_clients_than_the_cap(server, idle):
    requests = [post(1024) for _ in range(3 * MAX_CONNECTIONS)]
    results = at_once(server, [r[0] for r in requests])
    kinds = [clean(result, r[1]) for result, r in zip(results, requests)]
    assert all(k in ("ok", "503", "closed") for k in kinds), kinds
    assert kinds.count("ok") >= MAX_CONNECTIONS // 2, kinds
    assert serves(server)
    assert_back_to_idle(server, idle, "after more clients than max_connections")


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_large_bodies_up_to_max_body_size(server, idle, chunked):
    sizes = [1024, 2048, 4096, BODY_FLOOR, 12288, 16384, 32768, 65536, 262144, 1 << 20]
    floor = CHUNKED_BODY_FLOOR if chunked else BODY_FLOOR
    kinds = {}
    for size in sizes:
        data, expected = post(size, chunked=chunked)
        kinds[size] = clean(ask(server, data, timeout=10), expected)
        assert serves(server), "not serving after a body of %d bytes: %r" % (size, kinds)
    context = "bodies on a %d-byte heap: %r" % (HEAP, kinds)
    assert all(k in ("ok", "503", "closed") for k in kinds.values()), context
    assert all(kinds[size] == "ok" for size in sizes if size <= floor), context
    assert_back_to_idle(server, idle, context)


def test_handler_allocating_until_memory_error(server, idle):
    # On new connections, again and again.
    for path in ["/hog"] * 5 + ["/hog-once"] * 2:
        result = ask(server, b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode())
        assert clean(result) in ("503", "closed"), (path, result)
        assert serves(server), path
    # On a kept-alive connection: what came before is answered, the
    # connection ends at the 503, and other kept-alive clients go on.
    others = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        assert sock.recv(4096).endswith(b"ok")
        others.append(sock)
    try:
        result = ask(
            server,
            b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /hog HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n",
        )
        assert result.statuses in ([200, 503], [200]), result
        assert result.responses[0].body == b"ok", result
        assert result.ended in ("eof", "reset"), result
        for sock in others:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ok"), data
    finally:
        for sock in others:
            sock.close()
    assert_back_to_idle(server, idle, "after handlers ran out of memory")


def test_deep_json_and_big_responses(server, idle):
    result = ask(
        server, b"POST /json HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n" + b"[" * 2000
    )
    assert result.statuses in ([400], [503]) or clean(result) == "closed", result
    for n in (10000, 60000, 1 << 20):
        result = ask(server, b"GET /big?n=%d HTTP/1.1\r\nHost: h\r\n\r\n" % n)
        if result.statuses == [200]:
            assert len(result.responses[0].body) == n and result.responses[0].complete
        else:
            assert clean(result) in ("503", "closed"), (n, result)
        assert serves(server)
    assert_back_to_idle(server, idle, "after deep JSON and big responses")


def _keep_alive_run(server, count):
    """count requests of several kinds on one kept-alive connection."""
    kinds = [
        (b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", b"ok"),
        (b"GET /query?a=1&b=%C3%A9&a=2 HTTP/1.1\r\nHost: h\r\n\r\n", b'"b": ["\xc3\xa9"]'),
        (post(300, close=False)[0], b'"length": 300'),
        (post(700, chunked=True, close=False)[0], b'"length": 700'),
        (b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", b"Not Found"),
        (b"DELETE /ok HTTP/1.1\r\nHost: h\r\n\r\n", b"Method Not Allowed"),
        (b"GET /query?a=%zz HTTP/1.1\r\nHost: h\r\n\r\n", b"error"),
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        pending = b""
        for n in range(count):
            data, expect = kinds[n % len(kinds)]
            sock.sendall(data)
            while True:
                end = pending.find(b"\r\n\r\n")
                if end >= 0:
                    head = pending[:end]
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    if len(pending) >= end + 4 + length:
                        body = pending[end + 4 : end + 4 + length]
                        pending = pending[end + 4 + length :]
                        break
                chunk = sock.recv(65536)
                assert chunk, (n, pending)
                pending += chunk
            assert expect in body, (n, data[:60], head, body)


def test_no_leak_over_1000_requests(server, idle):
    start = time.monotonic()
    _keep_alive_run(server, 200)  # whatever grows once has grown
    before = mem(server)
    _keep_alive_run(server, 1000)
    after = mem(server)
    # And 200 connections that end in every way: served, rejected, cut off,
    # out of memory.
    for n in range(200):
        data = [
            b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            b"GET /ok HTTP/1.1\r\nHost: h\r\nX-A: a\x00\r\n\r\n",
            b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999\r\n\r\n",
            b"GET /ok HTTP/1.1\r\nHo",
            b"\x16\x03\x01\x00\xa5\x01\x00",
            b"GET /hog HTTP/1.1\r\nHost: h\r\n\r\n",
            post(BODY_FLOOR)[0],
            b"GET /query?a=%zz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ][n % 8]
        ask(server, data)
    last = mem(server)
    context = (
        "idle heap %d; before %d, after 1000 kept-alive requests %d, after 200 "
        "connections %d (%.1f s)"
        % (idle["alloc"], before["alloc"], after["alloc"], last["alloc"], time.monotonic() - start)
    )
    print(context)
    assert after["alloc"] - before["alloc"] <= LEAK_TOLERANCE, context
    assert last["alloc"] - before["alloc"] <= LEAK_TOLERANCE, context
    assert_back_to_idle(server, idle, context)


def test_nothing_escaped_and_still_serving(server, idle):
    time.sleep(0.1)
    log = server.output()
    for marker in ESCAPE_MARKERS:
        assert marker not in log, log[-3000:]
    assert server.alive() and serves(server)
