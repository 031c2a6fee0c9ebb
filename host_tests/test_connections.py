"""What a client sees of its connection, over real sockets, on both runtimes.

Deadlines while a body is awaited, other clients served while a long response
is written, a failure after the head has gone out, the connection cap (503s
that arrive whole, idle keep-alive connections making room), bytes that cannot
be HTTP answered at once, smuggling attempts refused, a Date on every
response, clients that stop reading, and every configured limit servable on
the smallest board's heap. The app is host_tests/apps/connection_app.py.
"""

import asyncio
import calendar
import os
import re
import select
import socket
import threading
import time

import pytest
from conftest import RUNTIMES, as_on_a_board, start_server
from test_hardening_common import APPS, exchange, parse_responses, read_all

APP = APPS / "connection_app.py"
SMALL_APP = APPS / "connection_small_app.py"  # the least app, for the smallest heaps
MiB = 1024 * 1024


# Helpers ------------------------------------------------------------------------


def ask(server, data, timeout=4.0, **kwargs):
    return exchange(server.port, data, timeout=timeout, **kwargs)


def get(server, path):
    """One GET with Connection: close on a new connection: its only reply."""
    result = ask(server, b"GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % path)
    assert len(result.responses) == 1 and result.responses[0].complete, result
    return result.responses[0]


def connect(server, timeout=5.0, receive_buffer=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        # Set before connecting, so that the kernel does not grow it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", server.port))
    return sock


def read_one(sock, timeout=4.0):
    """One response with a Content-Length from a kept-alive connection, or
    what came before the connection ended: (status or None, head, body)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(sock, deadline)
        if not chunk:
            return None, data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(length.group(1)) if length else 0
    while len(body) < length:
        chunk = _recv(sock, deadline)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), head, body


def _recv(sock, deadline, size=65536):
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(size)
    except (socket.timeout, ConnectionResetError):
        return b""


def dechunk(body):
    """The decoded chunked body and whether its last chunk arrived; by
    index, as the bodies here are megabytes."""
    view, at, pieces = memoryview(body), 0, []
    while True:
        line_end = body.find(b"\r\n", at)
        if line_end < 0:
            return b"".join(pieces), False
        size = int(body[at:line_end].split(b";")[0], 16)
        if size == 0:
            return b"".join(pieces), body.endswith(b"\r\n\r\n", line_end)
        start = line_end + 2
        pieces.append(bytes(view[start : start + size]))
        if len(body) < start + size + 2:
            return b"".join(pieces), False
        at = start + size + 2


def at_once(server, requests, timeout=6.0):
    """Each request on its own connection, all sent at the same moment; the
    requests are complete, so the client does not half-close."""
    results = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def one(index):
        barrier.wait()
        results[index] = ask(server, requests[index], timeout=timeout, half_close=False)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return results


def on_a_board(runtime, folder, heapsize):
    """serve() arguments: on MicroPython the library as .mpy and the heap capped."""
    board = as_on_a_board(runtime, folder)
    if board:
        board["heapsize"] = heapsize
    return board


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    """The library's default limits (read_timeout 30 s): for requests that
    must be answered at once, without waiting for a deadline."""
    running = start_server(request.param, APP, tmp_path_factory.mktemp("conn"), args=[0])
    running.runtime = request.param
    yield running
    running.stop()


# Deadlines ------------------------------------------------------------------------


def test_stalled_body_after_100_continue_gets_408(serve):
    server = serve(APP, args=[0, "read_timeout=1.0"])
    head = b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"
    result = ask(server, head, timeout=6, half_close=False)  # and the body never comes
    assert result.ended in ("eof", "reset"), result
    assert result.elapsed < 4, "answered after %.1f s with read_timeout=1: %r" % (
        result.elapsed,
        result,
    )
    assert result.statuses in ([100, 408], [100], [408]), result


# A response being written does not hold up other clients ----------------------------


class Download(threading.Thread):
    """Reads one response until the server closes; first_bytes is set once
    `started` bytes have come. pause: seconds to wait after each read of
    `piece` bytes (a slow reader), or None to read as fast as possible."""

    def __init__(self, server, path, started=4096, piece=65536, pause=None):
        threading.Thread.__init__(self, daemon=True)
        self.sock = connect(server, timeout=20)
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" % path)
        self.started, self.piece, self.pause = started, piece, pause
        self.first_bytes = threading.Event()
        self.data, self.ended, self.finished = b"", None, None
        self.start()

    def run(self):
        chunks, size, deadline = [], 0, time.monotonic() + 20
        with self.sock:
            while time.monotonic() < deadline:
                chunk = _recv(self.sock, deadline, self.piece)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size >= self.started:
                    self.first_bytes.set()
                if self.pause:
                    time.sleep(self.pause)
        self.finished = time.monotonic()
        self.data = b"".join(chunks)
        self.first_bytes.set()


def hello_during(waiting, download):
    """Asks /hello on `waiting`, a connection opened before the download
    began (so it is already accepted and idle), once the download has begun;
    the reply and when it came."""
    assert download.first_bytes.wait(10), "the download did not begin"
    asked = time.monotonic()
    waiting.sendall(b"GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    data, ended = read_all(waiting, asked + 10)
    answered = time.monotonic()
    replies = parse_responses(data)
    assert replies and replies[0].status == 200, (data, ended)
    return replies[0], answered


def test_hello_is_answered_while_a_sync_stream_is_downloaded(serve):
    # The downloader reads as fast as it can: a slow reader makes the server
    # wait for the socket, and waiting yields to other clients anyway. The
    # stream pauses after its first block (blocking the loop, as sync code
    # does) so that /hello is sure to be asked while it is running; the app
    # tells which of its blocks had been produced when /hello was answered.
    server = serve(APP, args=[0], heapsize="16M")
    waiting = connect(server, timeout=10)
    try:
        download = Download(server, b"/stream?n=%d&pause=0.5" % (3 * MiB), started=2048)
        reply, _ = hello_during(waiting, download)
        download.join(20)
    finally:
        waiting.close()
    produced, total = [int(n) for n in reply.headers["x-stream-progress"].split("/")]
    assert total == 3 * MiB // 2048
    assert produced < total, (
        "/hello was answered only after all %d blocks of the stream had been written" % total
    )
    head, _, body = download.data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    body, whole = dechunk(body)
    assert whole and body == b"s" * (3 * MiB), (whole, len(body))


def test_hello_is_answered_while_a_large_fixed_body_is_downloaded(serve):
    server = serve(APP, args=[0], heapsize="16M")  # 3 MB in one piece on MicroPython
    waiting = connect(server, timeout=10)
    try:
        # A reader of 16 KiB every 5 ms takes about a second for the body.
        download = Download(
            server, b"/fixed?n=%d" % (3 * MiB), started=65536, piece=16384, pause=0.005
        )
        _, answered = hello_during(waiting, download)
        download.join(20)
    finally:
        waiting.close()
    assert answered < download.finished, "/hello waited for the download to finish"
    reply = parse_responses(download.data)[0]
    assert (reply.status, reply.complete, len(reply.body)) == (200, True, 3 * MiB), reply


# A failure after the head has gone out ------------------------------------------------


def test_stream_that_fails_after_its_first_block_is_cut_off_not_answered_503(serve):
    server = serve(APP, args=[0])
    # Kept alive: a server that went on with the connection would not close it.
    # Read raw: the framing of what comes back may be broken.
    with connect(server) as sock:
        sock.sendall(b"GET /fails-after-first HTTP/1.1\r\nHost: h\r\n\r\n")
        data, ended = read_all(sock, time.monotonic() + 4)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    assert b"503" not in body and b"HTTP/1." not in body, "an answer inside the body: %r" % body
    assert body.startswith(b"%x\r\nfirst block" % (34 * 30)), body[:200]
    assert not body.endswith(b"0\r\n\r\n"), "the cut-off stream was ended as if it were whole"
    assert ended in ("eof", "reset"), (ended, data)
    assert get(server, b"/hello").status == 200


@pytest.mark.parametrize("runtime", ["micropython"])
def test_clients_on_a_crowded_small_heap_get_whole_answers_or_a_close(serve, runtime, tmp_path):
    # 8 clients at once on a 128K heap, each asking for a 192 KiB stream in
    # blocks of 16 or 24 KiB: some run out of memory, some after the head
    # has gone out. Each gets the whole body, a whole 503 with Connection:
    # close, or a closed connection (after a cut-off body); never a 200 with
    # a 503 written into its body.
    server = serve(APP, args=[0, "max_connections=64"], **on_a_board(runtime, tmp_path, "128K"))
    blocks = (16384, 24576) * 4
    requests = [
        b"GET /stream?n=%d&block=%d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        % (8 * block, block)
        for block in blocks
    ]
    kinds = []
    for _ in range(3):
        results = at_once_raw(server, requests)
        kinds += [_kind(data, ended, 8 * block) for (data, ended), block in zip(results, blocks)]
    assert all(kind in ("200", "503", "closed") for kind in kinds), kinds
    assert get(server, b"/hello").status == 200


def at_once_raw(server, requests, timeout=6.0):
    """Like at_once, without parsing: (bytes, how the connection ended) each."""
    results = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def one(index):
        barrier.wait()
        try:
            with connect(server, timeout) as sock:
                sock.sendall(requests[index])
                results[index] = read_all(sock, time.monotonic() + timeout)
        except OSError:  # refused or reset before a byte came
            results[index] = (b"", "reset")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return results


def _kind(data, ended, length):
    """'200': the whole stream; '503': a whole 503 with Connection: close;
    'closed': the close, after nothing or a cut-off 200. Else what came."""
    head, _, body = data.partition(b"\r\n\r\n")
    if ended not in ("eof", "reset"):
        return "not closed: %r" % data[-200:]
    if not data:
        return "closed"
    if head.startswith(b"HTTP/1.1 503"):
        replies = parse_responses(data)
        if len(replies) == 1 and replies[0].complete:
            if replies[0].headers.get("connection") == "close":
                return "503"
        return "unclean 503: %r" % data[:300]
    if not head.startswith(b"HTTP/1.1 200"):
        return "unexpected: %r" % data[:300]
    if b"503" in body or b"HTTP/1." in body:
        return "a response inside the body: %r" % body[max(0, body.find(b"503") - 40) :][:200]
    decoded, whole = dechunk(body)
    if whole:
        return "200" if decoded == b"s" * length else "wrong body"
    return "closed"


# The connection cap ------------------------------------------------------------------


def test_clients_over_the_connection_cap_get_a_whole_503_not_a_reset(serve):
    server = serve(APP, args=[0, "max_connections=8"])
    # Eight hold their connection for half a second; twelve come meanwhile.
    request = b"GET /slow?s=0.5 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    results = at_once(server, [request] * 20)
    problems = [
        r
        for r in results
        if r.ended != "eof"
        or len(r.responses) != 1
        or not r.responses[0].complete
        or r.statuses not in ([200], [503])
    ]
    assert not problems, "%d of 20 clients: %r" % (len(problems), problems[:3])
    assert get(server, b"/hello").status == 200


def test_idle_keep_alive_connections_make_room_oldest_first(serve):
    server = serve(APP, args=[0, "max_connections=8", "keepalive_timeout=30.0"])
    request = b"GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"  # kept alive
    browser, newcomers = [], []
    try:
        for _ in range(6):  # a browser's connections, idle after one request each
            sock = connect(server)
            sock.sendall(request)
            assert read_one(sock)[0] == 200
            browser.append(sock)
            time.sleep(0.02)
        for index in range(4):  # then, one after another, four new clients
            sock = connect(server)
            newcomers.append(sock)
            sock.sendall(request)
            status, head, _ = read_one(sock)
            assert status == 200, "new client %d of 4: %r" % (index + 1, head)
        for index, sock in enumerate(newcomers):
            sock.sendall(request)
            assert read_one(sock)[0] == 200, "new client %d lost its connection" % (index + 1)
        closed = [_closed(sock) for sock in browser]  # by now, as room was made at once
    finally:
        for sock in browser + newcomers:
            sock.close()
    assert sum(closed) >= 2, closed
    assert closed == sorted(closed, reverse=True), "not the oldest first: %r" % closed


def _closed(sock, wait=0.1):
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# Limits hold without first allocating what they limit ---------------------------------


def test_300_header_fields_get_431_on_a_64k_heap(serve, runtime, tmp_path):
    server = serve(SMALL_APP, args=[0], **on_a_board(runtime, tmp_path, "64K"))
    fields = b"".join(b"h%d: v\r\n" % i for i in range(300))  # 2.6 KB: within max_head_size
    result = ask(server, b"GET /hello HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n")
    assert result.statuses == [431], result
    assert result.ended in ("eof", "reset"), result
    assert get(server, b"/hello").status == 200


# Bytes that cannot be HTTP are answered at once ----------------------------------------

NOT_HTTP = {
    "all-bytes": bytes(range(256)) * 4,
    # The request line is whole; the head is not (no empty line yet).
    "nul-in-method": b"G\x00T / HTTP/1.1\r\nHost: h\r\n",
    "method-not-a-token": b"GE(T / HTTP/1.1\r\nHost: h\r\n",
}


@pytest.mark.parametrize("name", sorted(NOT_HTTP))
def test_bytes_that_cannot_be_http_get_400_at_once(server, name):
    # read_timeout is 30 s; the client keeps its side open.
    result = ask(server, NOT_HTTP[name], timeout=5, half_close=False)
    assert result.statuses == [400], result
    assert result.elapsed < 2, "answered after %.1f s" % result.elapsed
    assert result.ended in ("eof", "reset"), result


# Request targets -----------------------------------------------------------------------


def test_absolute_form_target_is_served_by_its_path(server):
    reply = get(server, b"http://example.com/hello")
    assert (reply.status, reply.body) == (200, b"hello"), reply


def test_invalid_absolute_uri_gets_400(server):
    assert get(server, b"http://[::1").status == 400


# Date ----------------------------------------------------------------------------------

_IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d\d):(\d\d):(\d\d) GMT$"
)
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def assert_date_is_now(value, context):
    assert value is not None, "no Date header: %r" % (context,)
    match = _IMF_FIXDATE.match(value)
    assert match, "not an IMF-fixdate: %r" % value
    day, mday, month, year, hour, minute, second = match.groups()
    stamp = calendar.timegm(
        (int(year), _MONTHS.index(month) + 1, int(mday), int(hour), int(minute), int(second))
    )
    assert abs(stamp - time.time()) < 5, "Date %r is not now" % value
    assert _DAYS[time.gmtime(stamp).tm_wday] == day, "wrong weekday: %r" % value


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET /stream?n=4096 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=["200", "404", "stream", "400-target", "400-line"],
)
def test_every_response_has_a_date(server, request_bytes):
    result = ask(server, request_bytes)
    assert len(result.responses) == 1, result
    assert_date_is_now(result.responses[0].headers.get("date"), result)


# Smuggling and strictness --------------------------------------------------------------


def smuggled_hits(server):
    return get(server, b"/hits").json()["smuggled"]


def test_chunk_extension_with_unterminated_quote_gets_400_and_hides_nothing(server):
    before = smuggled_hits(server)
    result = ask(
        server,
        b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'2;a="\r\nxx\r\n0\r\n\r\n'
        b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    )
    assert result.statuses == [400], result
    assert smuggled_hits(server) == before, "the request behind the extension was executed"


def test_chunk_extensions_by_the_grammar_are_accepted(server):
    result = ask(
        server,
        b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'2;name=value;q="a b;c"\r\nxx\r\n1;flag\r\ny\r\n0\r\n\r\n',
    )
    assert result.statuses == [200], result
    assert result.responses[0].json() == {"length": 3}


def test_transfer_encoding_with_a_kelvin_sign_gets_400(server):
    kelvin = "\u212a".encode()  # lowercases to "k" in Python's str.lower()
    result = ask(
        server,
        b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chun%sed\r\n\r\n"
        b"2\r\nxx\r\n0\r\n\r\n" % kelvin,
    )
    assert result.statuses == [400], result


def test_host_with_a_port_that_is_not_digits_gets_400(server):
    result = ask(server, b"GET /hello HTTP/1.1\r\nHost: x:abc\r\nConnection: close\r\n\r\n")
    assert result.statuses == [400], result
    result = ask(server, b"GET /hello HTTP/1.1\r\nHost: x:8080\r\nConnection: close\r\n\r\n")
    assert result.statuses == [200], result


# HEAD ----------------------------------------------------------------------------------


def test_error_answer_to_head_has_no_body(server):
    # Pipelined: body bytes after the head would be read as the next response.
    result = ask(server, b"HEAD /%zz HTTP/1.1\r\nHost: h\r\n\r\n" * 2)
    head, found, rest = result.data.partition(b"\r\n\r\n")
    assert found and head.startswith(b"HTTP/1.1 400"), result
    assert rest == b"", "bytes after the head of a HEAD answer: %r" % rest[:200]
    assert result.ended in ("eof", "reset"), result


# Clients that stop reading (CPython: asyncio buffers what the socket refuses) -----------

BIG_FILE = 6 * MiB


def stuck_server_connections(port):
    """The server's connections (local port `port`, still held by a process)
    with data the client has not taken, from /proc/net/tcp: the kernel's
    view, as a connection the server has let go of but asyncio still holds
    open would not show in app.connections."""
    stuck = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                lines = file.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            state, tx_queue, inode = fields[3], int(fields[4].split(":")[0], 16), fields[9]
            if local_port == port and state != "0A" and inode != "0" and tx_queue > 0:
                stuck += 1
    return stuck


@pytest.fixture
def big_file(tmp_path):
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "big.bin").write_bytes(b"f" * BIG_FILE)
    return folder


def stall(server):
    """A client that asks for the big file and never reads."""
    sock = connect(server, receive_buffer=32768)
    sock.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: h\r\n\r\n")
    return sock


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc")
@pytest.mark.parametrize("runtime", ["cpython"])
def test_client_that_stops_reading_is_cut_off_at_the_write_deadline(serve, runtime, big_file):
    server = serve(APP, args=[0, "read_timeout=1.0", "static=%s" % big_file])
    sock = stall(server)
    try:
        began = time.monotonic()
        while stuck_server_connections(server.port) == 0 and time.monotonic() - began < 2:
            time.sleep(0.05)  # until the server is stuck writing
        while stuck_server_connections(server.port) and time.monotonic() - began < 4.5:
            time.sleep(0.1)
        assert stuck_server_connections(server.port) == 0, "still writing after %.1f s" % (
            time.monotonic() - began
        )
        # Only now does the client read: the end of what was sent, then the close.
        data, ended = read_all(sock, time.monotonic() + 5)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert ended in ("eof", "reset")
    assert len(data) < BIG_FILE, "the file was sent whole to a client that had stopped reading"
    assert get(server, b"/count").json() == {"connections": 1}


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc")
@pytest.mark.parametrize("runtime", ["cpython"])
def test_clients_that_stop_reading_stay_within_the_connection_cap(serve, runtime, big_file):
    server = serve(APP, args=[0, "read_timeout=1.0", "max_connections=3", "static=%s" % big_file])
    socks, most_stuck, counts = [], 0, []
    try:
        for _ in range(12):  # one every 0.2 s, while earlier ones are stuck
            socks.append(stall(server))
            for _ in range(4):
                time.sleep(0.05)
                most_stuck = max(most_stuck, stuck_server_connections(server.port))
            reply = ask(server, b"GET /count HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            if reply.statuses == [200]:
                counts.append(reply.responses[0].json()["connections"])
        began = time.monotonic()
        while stuck_server_connections(server.port) and time.monotonic() - began < 4:
            time.sleep(0.1)
        reply = get(server, b"/hello")
    finally:
        for sock in socks:
            sock.close()
    assert most_stuck <= 3, "%d connections held open with max_connections=3" % most_stuck
    assert all(count <= 3 for count in counts), counts
    assert reply.status == 200, reply


# Every limit is servable on the smallest board -----------------------------------------

MAX_HEAD_SIZE = 4096  # the App default, counted as the server does: up to the empty line


@pytest.fixture
def small_board(serve, runtime, tmp_path):
    """100K of heap and the library as .mpy on MicroPython, the least app
    with a WebSocket route; a fresh server for each test."""
    running = serve(SMALL_APP, args=[0, "ws=1"], **on_a_board(runtime, tmp_path, "100K"))
    running.runtime = runtime
    return running


def head_of_max_size(field_count):
    """A GET whose head is max_head_size bytes up to its empty line: field_count
    fields of 80 bytes, then one that pads to the size."""
    head = b"GET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
    head += b"".join(b"X-Field-%02d: %s\r\n" % (i, b"v" * 80) for i in range(field_count))
    head += b"X-Pad: " + b"p" * (MAX_HEAD_SIZE - len(head) - 7)
    assert len(head) == MAX_HEAD_SIZE
    return head + b"\r\n\r\n"


def chunked_body_over_the_limit(server, segment=None):
    """max_body_size (the default, 1 MiB) + 1 in 4 KiB chunks, sent at once
    or in TCP segments of the size given: the reply."""
    block = b"1000\r\n" + b"b" * 4096 + b"\r\n"
    body = block * (MiB // 4096) + b"1\r\nb\r\n0\r\n\r\n"
    data = b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    if segment is None:
        return ask(server, data, timeout=8)
    pieces = [data[i : i + segment] for i in range(0, len(data), segment)]
    return ask(server, data, timeout=8, pieces=pieces)


def websocket_echo_failures(server, rounds=2):
    """Messages of exactly the library's default max_message_size on each
    runtime (ASCII text, binary, text in four fragments, two-byte
    characters), each on its own connection: those not echoed."""
    websockets = pytest.importorskip("websockets")
    from websockets.asyncio.client import connect as ws_connect

    size = 4096 if server.runtime == "micropython" else MiB
    messages = {
        "text": "m" * size,
        "binary": b"b" * size,
        "fragments": ["f" * (size // 4)] * 4,
        "two-byte characters": "\u00e9" * (size // 2),
    }

    async def echo(message):
        async with ws_connect("ws://127.0.0.1:%d/ws" % server.port, max_size=None) as ws:
            await ws.send(message)
            return await ws.recv()

    failures = []
    for _ in range(rounds):  # again in a heap the first round has churned
        for name, message in messages.items():
            try:
                answer = asyncio.run(asyncio.wait_for(echo(message), 10))
            except websockets.exceptions.ConnectionClosed as closed:
                failures.append("%s: closed (%s)" % (name, closed))
                continue
            expected = "".join(message) if isinstance(message, list) else message
            if answer != expected:
                failures.append("%s: %d bytes came back" % (name, len(answer)))
    return failures


@pytest.mark.parametrize("field_count", [0, 40])  # 40: 43 fields of the 48 allowed
def test_head_of_exactly_max_head_size_is_served_on_a_small_heap(small_board, field_count):
    result = ask(small_board, head_of_max_size(field_count))
    assert result.statuses == [200], result


def test_chunked_body_one_byte_over_max_body_size_gets_413_on_a_small_heap(small_board):
    result = chunked_body_over_the_limit(small_board)
    assert result.statuses == [413], result
    assert get(small_board, b"/hello").status == 200


def test_websocket_messages_at_max_message_size_are_echoed_on_a_small_heap(small_board):
    failures = websocket_echo_failures(small_board)
    assert not failures, failures


# In 100-byte segments the body is read in small pieces that leave the heap
# full of holes: a head at the limit was then refused (503) about once in
# eight runs, when the server still needed it in one block.
@pytest.mark.parametrize("segment", [None, 100])
def test_limits_are_still_servable_after_a_body_over_the_limit_on_a_small_heap(
    small_board, segment
):
    # The board goes on after a client that sent too much: the heap that
    # refusing it churned still serves a head at max_head_size, again and
    # again. (WebSocket messages of 4 KiB after this churn are not all
    # echoed on the 100K board, measured: left out until the core's heap
    # shrinks.)
    assert chunked_body_over_the_limit(small_board, segment).statuses == [413]
    for _ in range(3):
        result = ask(small_board, head_of_max_size(40))
        assert result.statuses == [200], result
    assert get(small_board, b"/hello").status == 200


def test_head_of_max_head_size_is_taken_field_by_field(serve, runtime, tmp_path):
    # 88K: the least app holds about 64K, and a head at the limit then has
    # 24K, not enough for the whole head in one block, a copy of it and its
    # fields (that needed 92K, measured); taken as its lines come, it is
    # served from 82K.
    server = serve(SMALL_APP, args=[0, "ws=1"], **on_a_board(runtime, tmp_path, "88K"))
    for _ in range(3):
        result = ask(server, head_of_max_size(40))
        assert result.statuses == [200], result
