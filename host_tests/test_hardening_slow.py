"""Issue 7, point 3: slow and idle clients, on both runtimes.

Against host_tests/apps/hardening_app.py (read_timeout=1.0,
keepalive_timeout=1.0, max_connections=4):
- a head sent one byte at a time, or a body (Content-Length or chunked) sent
  slowly, is cut off with a 408 read_timeout after the request's first byte;
  a slow client that does finish in time is served;
- a new connection that sends nothing, and a kept-alive one left idle, are
  closed after read_timeout / keepalive_timeout; the keep-alive clock starts
  again with every request;
- with max_connections reached, a new client gets a 503 or a clean refusal,
  the connections already open are still served, and the server serves new
  clients again once they go, or once slow clients have been cut off;
- a client that stops reading its response cannot hold its connection (and
  with the cap, the whole server) forever.

The single-connection scenarios mostly wait for a timeout, so they run side
by side (at most max_connections at once) in one module fixture; each test
then checks its own scenario's result.
"""

import json
import select
import socket
import threading
import time

import pytest
from conftest import RUNTIMES
from test_hardening_common import counts, get, parse_responses, start_hardening, still_serves

READ_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 1.0
MAX_CONNECTIONS = 4
# The watchdog looks every min(timeouts)/4 s; a loaded test machine adds more.
LATE = 0.8
EARLY = 0.05

HEAD = b"POST /echo HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"s" * 40 + b"\r\n"


def _connect(port, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Outcome:
    """What one slow or idle client saw, with times from its start."""

    def __init__(self, data, ended, answered, closed, extra=None):
        self.data = data
        self.ended = ended  # "eof", "reset" or "timeout"
        self.answered = answered  # seconds until the first byte of an answer, or None
        self.closed = closed  # seconds until the server closed, or None
        self.responses = parse_responses(data)
        self.extra = extra or {}

    @property
    def statuses(self):
        return [r.status for r in self.responses]

    def __repr__(self):
        return "<Outcome %s ended=%s answered=%s closed=%s %r>" % (
            self.statuses,
            self.ended,
            _round(self.answered),
            _round(self.closed),
            self.data[:200],
        )


def _round(value):
    return None if value is None else round(value, 3)


def _read_rest(sock, start, data=b"", answered=None, limit=4.0):
    """Read until the server closes (or limit seconds from start)."""
    while True:
        left = start + limit - time.monotonic()
        if left <= 0:
            return data, "timeout", answered, None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, "timeout", answered, None
        except ConnectionResetError:
            return data, "reset", answered, time.monotonic() - start
        if not chunk:
            return data, "eof", answered, time.monotonic() - start
        if answered is None:
            answered = time.monotonic() - start
        data += chunk


def trickle(port, pieces, pause, sock=None, start=None):
    """Send pieces pause apart, stopping once the server answers or closes.

    Times count from the first piece (or from start).
    """
    own = sock is None
    sock = sock or _connect(port)
    try:
        start = start or time.monotonic()
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:
                break
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                break
        data, ended, answered, closed = _read_rest(sock, start)
        return Outcome(data, ended, answered, closed)
    finally:
        if own:
            sock.close()


def _bytes(data):
    return [data[i : i + 1] for i in range(len(data))]


def _request_and_answer(sock, data):
    """Send a request on a kept-alive connection and read exactly its answer."""
    sock.sendall(data)
    received = b""
    while True:
        replies = parse_responses(received)
        if replies and replies[0].complete and replies[0].status is not None:
            return replies[0]
        chunk = sock.recv(65536)
        if not chunk:
            return replies[0] if replies else None
        received += chunk


# Scenarios: each one client, mostly waiting for a timeout --------------------------------


def head_byte_by_byte(port):
    return trickle(port, _bytes(HEAD + b"Content-Length: 2\r\n\r\nok"), 0.05)


def body_slowly_with_length(port):
    sock = _connect(port)
    with sock:
        start = time.monotonic()
        sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n")
        return trickle(port, _bytes(b"b" * 100), 0.05, sock, start)


def body_slowly_chunked(port):
    sock = _connect(port)
    with sock:
        start = time.monotonic()
        sock.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        return trickle(port, [b"1\r\nb\r\n"] * 100, 0.05, sock, start)


def slow_but_in_time(port):
    # 66 pieces 5 ms apart: about half of read_timeout.
    data = HEAD + b"Content-Length: 10\r\nConnection: close\r\n\r\n" + b"0123456789"
    pieces = [data[i : i + 2] for i in range(0, len(data), 2)]
    return trickle(port, pieces, 0.005)


def idle_new_connection(port):
    with _connect(port) as sock:
        start = time.monotonic()
        data, ended, answered, closed = _read_rest(sock, start)
        return Outcome(data, ended, answered, closed)


def idle_after_a_request(port):
    with _connect(port) as sock:
        reply = _request_and_answer(sock, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        start = time.monotonic()
        data, ended, answered, closed = _read_rest(sock, start)
        return Outcome(data, ended, answered, closed, {"first": reply})


def keep_alive_clock_restarts(port):
    # Three requests 0.6 s apart: longer than keepalive_timeout in all, but
    # never that long idle.
    replies = []
    with _connect(port) as sock:
        start = time.monotonic()
        for n in range(3):
            if n:
                time.sleep(0.6 * KEEPALIVE_TIMEOUT)
            try:
                replies.append(_request_and_answer(sock, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"))
            except OSError as exc:
                replies.append(exc)
        return Outcome(
            b"", "open", None, None, {"replies": replies, "span": time.monotonic() - start}
        )


def second_request_byte_by_byte(port):
    with _connect(port) as sock:
        reply = _request_and_answer(sock, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        outcome = trickle(port, _bytes(HEAD + b"Content-Length: 2\r\n\r\nok"), 0.05, sock)
        outcome.extra["first"] = reply
        return outcome


SCENARIOS = {
    "head_byte_by_byte": head_byte_by_byte,
    "body_slowly_with_length": body_slowly_with_length,
    "body_slowly_chunked": body_slowly_chunked,
    "slow_but_in_time": slow_but_in_time,
    "idle_new_connection": idle_new_connection,
    "idle_after_a_request": idle_after_a_request,
    "keep_alive_clock_restarts": keep_alive_clock_restarts,
    "second_request_byte_by_byte": second_request_byte_by_byte,
}


def run_side_by_side(port, scenarios, at_once):
    results = {}
    names = list(scenarios)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not names:
                    return
                name = names.pop(0)
            try:
                results[name] = scenarios[name](port)
            except Exception as exc:  # reported by the scenario's test
                results[name] = exc

    threads = [threading.Thread(target=worker) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    running = start_hardening(request.param, tmp_path_factory.mktemp("slow"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def outcomes(server):
    # One slot left free: a scenario's connection counts until the server has
    # closed its socket, and at the cap a newcomer would close an idle
    # kept-alive one (a scenario's) to make room.
    results = run_side_by_side(server.port, SCENARIOS, MAX_CONNECTIONS - 1)
    time.sleep(0.1)
    results["log"] = server.output()
    return results


def outcome(outcomes, name, server):
    result = outcomes[name]
    if isinstance(result, Exception):
        raise AssertionError("%s on %s raised %r" % (name, server.runtime, result))
    return result


def assert_cut_off_with_408(result, context):
    assert result.statuses == [408], context
    reply = result.responses[0]
    assert reply.complete and reply.headers.get("connection") == "close", context
    assert json.loads(reply.body)["error"], context
    assert READ_TIMEOUT - EARLY <= result.answered <= READ_TIMEOUT + LATE, context
    assert result.ended in ("eof", "reset") and result.closed <= READ_TIMEOUT + LATE, context


@pytest.mark.parametrize(
    "name",
    [
        "head_byte_by_byte",
        "body_slowly_with_length",
        "body_slowly_chunked",
        "second_request_byte_by_byte",
    ],
)
def test_slow_request_is_cut_off_at_read_timeout(server, outcomes, name):
    result = outcome(outcomes, name, server)
    context = "%s on %s: %r" % (name, server.runtime, result)
    assert_cut_off_with_408(result, context)
    if "first" in result.extra:
        assert result.extra["first"].status == 200, context
    assert still_serves(server)


def test_slow_client_in_time_is_served(server, outcomes):
    result = outcome(outcomes, "slow_but_in_time", server)
    context = "on %s: %r" % (server.runtime, result)
    assert result.statuses == [200], context
    echo = result.responses[0].json()
    assert echo["body"] == b"0123456789".hex() and echo["headers"]["x-slow"] == "s" * 40, context


def test_idle_new_connection_is_closed_after_read_timeout(server, outcomes):
    result = outcome(outcomes, "idle_new_connection", server)
    context = "on %s: %r" % (server.runtime, result)
    # Closed without a word, or with a 408 (RFC 9112 9.5 allows either).
    assert result.data == b"" or result.statuses == [408], context
    assert result.ended in ("eof", "reset"), context
    assert READ_TIMEOUT - EARLY <= result.closed <= READ_TIMEOUT + LATE, context


def test_idle_keep_alive_connection_is_closed_after_keepalive_timeout(server, outcomes):
    result = outcome(outcomes, "idle_after_a_request", server)
    context = "on %s: %r" % (server.runtime, result)
    first = result.extra["first"]
    assert (first.status, first.body) == (200, b"ok"), context
    assert result.data == b"", context  # nothing was asked: nothing to answer
    assert result.ended in ("eof", "reset"), context
    assert KEEPALIVE_TIMEOUT - EARLY <= result.closed <= KEEPALIVE_TIMEOUT + LATE, context


def test_keep_alive_clock_restarts_with_each_request(server, outcomes):
    result = outcome(outcomes, "keep_alive_clock_restarts", server)
    replies = result.extra["replies"]
    context = "on %s: %r over %.2f s" % (server.runtime, replies, result.extra["span"])
    assert all(getattr(r, "status", None) == 200 for r in replies), context
    assert result.extra["span"] > KEEPALIVE_TIMEOUT, context


def test_nothing_escaped_while_timing_out(server, outcomes):
    for marker in ("Traceback", "unhandled exception"):
        assert marker not in outcomes["log"], outcomes["log"]


# The connection cap ------------------------------------------------------------------------


def _refused_cleanly(port):
    """A client past the cap: a complete 503 with Connection: close, or a refusal
    (nothing, then the end of the connection)."""
    try:
        sock = _connect(port)
    except OSError as exc:
        return "refused", exc
    with sock:
        start = time.monotonic()
        try:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        except OSError:
            pass
        data, ended, _, closed = _read_rest(sock, start, limit=2.0)
    replies = parse_responses(data)
    if data == b"" and ended in ("eof", "reset"):
        return "refused", (ended, closed)
    if [r.status for r in replies] == [503]:
        reply = replies[0]
        if reply.complete and reply.headers.get("connection") == "close" and ended != "timeout":
            return "503", closed
    return "unclean", (data, ended)


def _served_again(port, within):
    """Polls until a new client gets /ok; seconds it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        try:
            with _connect(port) as sock:
                sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                data, _, _, _ = _read_rest(sock, time.monotonic(), limit=1.0)
            replies = parse_responses(data)
            if replies and (replies[0].status, replies[0].body) == (200, b"ok"):
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    return None


def test_cap_reached_refuses_cleanly_then_serves_again_once_they_go(server):
    held = [_connect(server.port) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.1)  # all accepted
        kind, detail = _refused_cleanly(server.port)
        context = "on %s: %s %r" % (server.runtime, kind, detail)
        assert kind in ("503", "refused"), context
        # The connections that hold the cap are served as usual.
        for sock in held:
            reply = _request_and_answer(sock, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
            assert (reply.status, reply.body) == (200, b"ok"), (server.runtime, reply)
    finally:
        for sock in held:
            sock.close()
    took = _served_again(server.port, within=1.0)
    assert took is not None, "not served again on %s once they went" % server.runtime


def test_cap_held_by_slow_clients_frees_itself(server):
    """Slow-loris: max_connections clients trickle heads; a newcomer is refused,
    then served as soon as they have been cut off (408) at read_timeout."""
    results = {}

    def slowloris(n):
        results[n] = trickle(server.port, _bytes(HEAD * 3), 0.05)

    threads = [threading.Thread(target=slowloris, args=(n,)) for n in range(MAX_CONNECTIONS)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    kind, detail = _refused_cleanly(server.port)
    assert kind in ("503", "refused"), "on %s: %s %r" % (server.runtime, kind, detail)
    took = _served_again(server.port, within=READ_TIMEOUT + 2 * LATE)
    for thread in threads:
        thread.join(5)
    context = "on %s: %r" % (server.runtime, results)
    assert took is not None, context
    assert time.monotonic() - start < READ_TIMEOUT + 3 * LATE, context
    for result in results.values():
        assert result.statuses == [408], context


def test_clients_that_stop_reading_cannot_hold_the_server(server):
    """max_connections clients ask for an endless stream and stop reading. The
    server cannot send them anything more: each connection makes no progress,
    so it must be let go (as a slow request is at read_timeout), or a few idle
    sockets lock every other client out for good."""
    before = counts(server)
    readers = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = _connect(server.port, rcvbuf=4096)
            sock.sendall(b"GET /stream/endless HTTP/1.1\r\nHost: h\r\n\r\n")
            readers.append(sock)
        time.sleep(0.3)  # the socket buffers fill up at once
        kind, detail = _refused_cleanly(server.port)
        assert kind in ("503", "refused"), "on %s: %s %r" % (server.runtime, kind, detail)
        # The readers are still connected, still not reading.
        took = _served_again(server.port, within=3 * READ_TIMEOUT)
        context = (
            "on %s: with %d clients connected that stopped reading a stream, a new "
            "client was still refused %.1f s later (read_timeout %.1f s)"
            % (server.runtime, MAX_CONNECTIONS, 3 * READ_TIMEOUT, READ_TIMEOUT)
        )
        assert took is not None, context
    finally:
        for sock in readers:
            sock.close()
    # Once they are gone, in any case, streams end and the server serves.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if counts(server)["stream_finally"] >= before["stream_finally"] + MAX_CONNECTIONS:
            break
        time.sleep(0.1)
    assert still_serves(server)


def test_still_serving_at_the_end(server):
    reply = get(server, "/echo?x=1")
    assert reply.status == 200 and reply.json()["query_params"] == {"x": ["1"]}
    assert server.alive()
