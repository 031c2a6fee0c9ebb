"""Issue 7, point 6: handler faults never kill the server, on both runtimes.

Exceptions in handlers (async and sync), hooks, error handlers and streaming
generators (at the start and half way), and handlers that return what cannot
be sent: each gets a clear answer (500, or a stream cut off without its last
chunk so the client can tell), the secret in the exception never reaches the
client, and the server goes on serving, on the same kept-alive connection
when the response was complete.
"""

import socket
import time

import pytest
from conftest import RUNTIMES
from test_hardening_common import counts, exchange, get, start_hardening, still_serves


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    running = start_hardening(request.param, tmp_path_factory.mktemp("faults"))
    yield running
    running.stop()


@pytest.fixture
def fresh(runtime, tmp_path):
    """A server of its own, for tests that may leave it unable to serve."""
    running = start_hardening(runtime, tmp_path)
    yield running
    running.stop()


FAULTS = [
    # path, status, secret that must not reach the client
    ("/fault/raise", 500, b"async-handler-secret"),
    ("/fault/raise-sync", 500, b"sync-handler-secret"),
    ("/fault/zero", 500, b"division"),
    ("/fault/timeout", 500, b"Timeout"),
    ("/fault/cancelled", 500, b"Cancelled"),
    ("/fault/stop-iteration", 500, b"StopIteration"),
    ("/fault/bad-return", 500, b"cannot return"),
    ("/fault/bad-tuple", 500, b"returned tuple"),
    ("/fault/bad-status", 500, b"two hundred"),
    ("/fault/header-injection", 500, b"evil=1"),
    ("/fault/handled", 422, b"HandledFault"),
    ("/fault/handler-raises", 500, b"error-handler-secret"),
    ("/fault/before", 500, b"before-hook-secret"),
    ("/fault/before-bad-return", 500, b"cannot return"),
    ("/fault/after", 500, b"after-hook-secret"),
    ("/fault/after-bad-return", 500, b"cannot return"),
    ("/fault/500-handler-raises", 500, b"500-handler-secret"),
    ("/fault/404-handler-raises/x", 500, b"404-handler-secret"),
    ("/fault/memory", 503, b"MemoryError"),
]


@pytest.mark.parametrize("path, status, secret", FAULTS, ids=[f[0] for f in FAULTS])
def test_handler_fault_gets_an_answer_and_server_goes_on(server, path, status, secret):
    # The faulty request, then a plain one on the same connection.
    data = (
        b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode()
        + b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    result = exchange(server.port, data)
    context = "%s on %s: %r" % (path, server.runtime, result)
    assert result.responses, context
    reply = result.responses[0]
    assert reply.status == status, context
    assert reply.complete, context
    assert reply.json()["error" if status != 422 else "handled"], context
    assert secret not in result.data, context
    assert b"Set-Cookie" not in result.data, context  # no header injection
    if status == 503:
        assert reply.headers.get("connection") == "close", context
    else:
        # A complete answer leaves the connection usable.
        assert result.statuses == [status, 200], context
    assert result.ended == "eof", context
    assert still_serves(server)


@pytest.mark.parametrize("path", ["/stream/fail-start", "/stream/sync-fail-start"])
def test_stream_failing_at_start(server, path):
    result = exchange(server.port, b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode())
    context = "%s on %s: %r" % (path, server.runtime, result)
    reply = result.responses[0]
    # Either a 500 before anything was sent, or a 200 that visibly breaks off.
    if reply.status == 500:
        assert reply.complete, context
    else:
        assert reply.status == 200, context
        assert reply.headers.get("transfer-encoding") == "chunked", context
        assert not reply.complete, context
        assert result.ended in ("eof", "reset") and result.elapsed < 2, context
    assert b"secret" not in result.data, context
    assert still_serves(server)


@pytest.mark.parametrize(
    "path", ["/stream/fail-half", "/stream/sync-fail-half", "/stream/bad-chunk"]
)
def test_stream_failing_half_way_is_cut_off(fresh, path):
    server = fresh
    result = exchange(server.port, b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode())
    context = "%s on %s: %r" % (path, server.runtime, result)
    reply = result.responses[0]
    assert reply.status == 200, context
    assert reply.body.startswith(b"first;"), context
    assert not reply.complete, context  # no last chunk: the client can tell
    assert not result.data.endswith(b"0\r\n\r\n"), context
    assert result.ended in ("eof", "reset") and result.elapsed < 2, context
    assert b"secret" not in result.data, context
    assert still_serves(server)


def test_failing_streams_do_not_use_up_connections(fresh):
    server = fresh
    # More failed streams than max_connections (4): each must give its
    # connection back, or the server ends up refusing everyone.
    for path in ("/stream/fail-half", "/stream/bad-chunk", "/stream/fail-start"):
        for _ in range(5):
            exchange(server.port, b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode(), timeout=2)
    time.sleep(0.2)
    assert still_serves(server), server.runtime


def test_stream_to_client_that_goes_away(server):
    before = counts(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.sendall(b"GET /stream/endless HTTP/1.1\r\nHost: h\r\n\r\n")
        received = b""
        while len(received) < 5000:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        after = counts(server)
        if after["stream_finally"] > before["stream_finally"]:
            break
        time.sleep(0.1)
    assert after["stream_started"] == before["stream_started"] + 1
    # The generator is closed, so its finally clause (freeing what it holds) runs.
    assert after["stream_finally"] == before["stream_finally"] + 1, (server.runtime, after)
    assert still_serves(server)


def test_http10_stream_failing_half_way_ends_early(server):
    # HTTP/1.0 has no chunks: the body ends at the close, cut short.
    result = exchange(server.port, b"GET /stream/fail-half HTTP/1.0\r\n\r\n")
    reply = result.responses[0]
    assert reply.status == 200 and reply.body == b"first;second;", result
    assert result.ended in ("eof", "reset"), result
    assert still_serves(server)


def test_errors_are_logged_not_sent(server):
    get(server, "/fault/raise")
    time.sleep(0.2)
    assert "async-handler-secret" in server.output()
    assert server.alive()
