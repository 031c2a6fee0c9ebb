"""Shared helpers of the hardening tests (no tests here).

A raw-socket client that can half-close, trickle and survive resets, a parser
of the responses that came back (framing checked, truncation detected), and
the module-scoped hardening server on each runtime.
"""

import json
import socket
import time
from pathlib import Path

from conftest import REPO

APPS = REPO / "host_tests" / "apps"
CORPUS = REPO / "host_tests" / "corpus"
HARDENING_APP = APPS / "hardening_app.py"

# Printed by the server when an exception escapes (CPython's logger writes
# "unhandled exception" with the traceback; MicroPython prints the traceback).
ESCAPE_MARKERS = ("Traceback", "unhandled exception")


class Exchange:
    """What came back on one connection: bytes, and how the connection ended."""

    def __init__(self, data, ended, elapsed):
        self.data = data
        self.ended = ended  # "eof", "reset" or "timeout"
        self.elapsed = elapsed
        self.responses = parse_responses(data)

    @property
    def status(self):
        return self.responses[0].status if self.responses else None

    @property
    def statuses(self):
        return [r.status for r in self.responses]

    def __repr__(self):
        return "<Exchange %s ended=%s %r>" % (self.statuses, self.ended, self.data[:300])


def exchange(port, data, *, timeout=4.0, half_close=True, pause=None, pieces=None):
    """Send data on a new connection and read until the server closes it.

    half_close shuts our sending side once everything is sent, so a server
    waiting for more of an incomplete request sees EOF at once instead of
    waiting for its read timeout. pieces with pause trickles the bytes.
    """
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            if pieces is None:
                sock.sendall(data)
            else:
                for piece in pieces:
                    sock.sendall(piece)
                    if pause:
                        time.sleep(pause)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close before we finish: read what it said
        data, ended = read_all(sock, start + timeout)
    return Exchange(data, ended, time.monotonic() - start)


def read_all(sock, deadline):
    """Read until the server closes (eof), resets, or deadline: (data, how it ended)."""
    chunks, ended = [], "timeout"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(max(0.01, left))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            ended = "reset"
            break
        if not chunk:
            ended = "eof"
            break
        chunks.append(chunk)
    return b"".join(chunks), ended


class Reply:
    def __init__(self, status, reason, headers, body, complete, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.complete = complete
        self.raw_head = raw_head

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Reply %s complete=%s %r>" % (self.status, self.complete, self.body[:100])


def parse_responses(data, head_only=()):
    """Split bytes into the responses they hold, checking each one's framing.

    A response whose body is cut short is returned with complete=False and
    ends the list; bytes that do not start a response end it too.
    head_only: indexes of responses to HEAD requests (no body).
    """
    replies = []
    while data:
        end = data.find(b"\r\n\r\n")
        if not data.startswith(b"HTTP/1.") or end < 0:
            replies.append(Reply(None, "", {}, data, False, data))
            break
        head, rest = data[:end], data[end + 4 :]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.decode("latin-1").lower()
            value = value.strip().decode("latin-1")
            headers[key] = headers[key] + ", " + value if key in headers else value
        if 100 <= status < 200:
            replies.append(Reply(status, parts[2:], headers, b"", True, head))
            data = rest
            continue
        if len(replies) in head_only or status in (204, 304):
            replies.append(Reply(status, parts[2:], headers, b"", True, head))
            data = rest
            continue
        if "chunked" in headers.get("transfer-encoding", ""):
            body, complete, rest = _dechunk(rest)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            body, complete, rest = rest[:length], len(rest) >= length, rest[length:]
        else:
            body, complete, rest = rest, True, b""  # delimited by the close
        replies.append(Reply(status, (parts[2:] or [b""])[0], headers, body, complete, head))
        if not complete:
            break
        data = rest
    return replies


def _dechunk(data):
    body = bytearray()
    while True:
        line_end = data.find(b"\r\n")
        if line_end < 0:
            return bytes(body), False, b""
        size = int(data[:line_end].split(b";")[0], 16)
        data = data[line_end + 2 :]
        if size == 0:
            end = data.find(b"\r\n")
            while end > 0:  # trailer fields
                data = data[end + 2 :]
                end = data.find(b"\r\n")
            if end < 0:
                return bytes(body), False, b""
            return bytes(body), True, data[2:]
        if len(data) < size + 2:
            body += data[:size]
            return bytes(body), False, b""
        body += data[:size]
        data = data[size + 2 :]


def get(server, path, headers=b"", timeout=4.0):
    """One GET on a new connection; the (only) Reply."""
    result = exchange(
        server.port,
        b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n" % (path.encode(), headers),
        timeout=timeout,
    )
    assert result.responses, result
    return result.responses[0]


def still_serves(server):
    """The next request on a new connection is served."""
    reply = get(server, "/ok")
    assert (reply.status, reply.body) == (200, b"ok"), reply
    return True


def counts(server):
    return get(server, "/counts").json()


class OutputWatch:
    """Checks that nothing escaped to the server's log since the last check."""

    def __init__(self, server):
        self.server = server
        self.mark = len(server.output())

    def new(self):
        time.sleep(0.05)
        output = self.server.output()
        text, self.mark = output[self.mark :], len(output)
        return text

    def assert_quiet(self, context=""):
        text = self.new()
        for marker in ESCAPE_MARKERS:
            assert marker not in text, "%s\nserver log:\n%s" % (context, text)


def start_hardening(runtime, folder, static=None, heapsize=None):
    from conftest import start_server

    args = [0] if static is None else [0, static]
    server = start_server(runtime, HARDENING_APP, folder, args=args, heapsize=heapsize)
    server.runtime = runtime
    return server


def load_json(name):
    return json.loads((CORPUS / name).read_text())


def to_bytes(text):
    """Corpus files keep request bytes as JSON strings of code points 0-255."""
    return text.encode("latin-1")


def to_text(data):
    return data.decode("latin-1")


__all__ = [
    "APPS",
    "CORPUS",
    "Exchange",
    "Reply",
    "exchange",
    "parse_responses",
    "get",
    "still_serves",
    "counts",
    "OutputWatch",
    "start_hardening",
    "load_json",
    "to_bytes",
    "to_text",
    "Path",
]
