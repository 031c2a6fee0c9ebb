"""The sans-IO functions of httpserver.protocol and httpserver.chunked: bytes in,
a decision or an HTTPException out.

Every rule_* function below runs in process on CPython (one pytest case each)
and, by test_the_rules_hold_under_micropython, in one `micropython` process
running this file as a script: the same checks on both runtimes.
"""

import asyncio
import gc
import sys
import time

try:
    import pytest
except ImportError:  # run as a script by MicroPython: see main()
    pytest = None

if pytest is not None:
    import socket
    import subprocess

    from conftest import LIB, REPO, runtime_command, runtime_env

    if str(LIB) not in sys.path:
        sys.path.insert(0, str(LIB))

from httpserver.chunked import read_chunked  # noqa: E402
from httpserver.chunkgrammar import check_trailer, parse_chunk_size  # noqa: E402
from httpserver.errors import HTTPException  # noqa: E402
from httpserver.head import parse_head  # noqa: E402
from httpserver.protocol import (  # noqa: E402
    CHUNKED,
    FIXED,
    NO_BODY,
    UNTIL_CLOSE,
    body_framing,
    decode,
    encode_head,
    frame_response,
    has_control,
    http_date,
    is_token,
    parse_query,
    reason,
    split_target,
    unquote,
    wants_keep_alive,
)
from httpserver.request import Headers  # noqa: E402
from httpserver.unusual import check_request_start  # noqa: E402

KELVIN = "\u212a"  # KELVIN SIGN: CPython's str.lower() makes it "k"


def status_of(function, *args):
    """The status of the HTTPException that function(*args) raises, or None."""
    try:
        function(*args)
    except HTTPException as exc:
        return exc.status_code
    return None


def allocated(function, *args):
    """Bytes allocated while function(*args) runs (its exceptions swallowed)."""
    if hasattr(gc, "mem_alloc"):  # MicroPython
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        try:
            function(*args)
        except Exception:
            pass
        used = gc.mem_alloc() - before
        gc.enable()
        return used
    import tracemalloc

    tracemalloc.start()
    try:
        function(*args)
    except Exception:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def head_with_fields(count):
    return b"GET / HTTP/1.1\r\nHost: h" + b"\r\nX-A: b" * (count - 1)


# -------------------------------------------------------------- parse_head


def rule_a_head_parses_to_method_target_version_and_lowercase_fields():
    head = (
        b"POST /a%20b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-Many: a\r\n"
        b"x-many:b \r\nCookie: a=1\r\nCOOKIE: b=2\r\nContent-Length: 3\r\nEmpty:"
    )
    method, target, version, headers = parse_head(head, 32)
    assert (method, target, version) == ("POST", "/a%20b?x=1", "HTTP/1.1")
    assert headers == {
        "host": "example.com:8080",
        "x-many": "a, b",
        "cookie": "a=1; b=2",
        "content-length": "3",
        "empty": "",
    }, headers
    mapping = Headers()
    assert parse_head(b"GET / HTTP/1.0", 32, mapping)[3] is mapping  # HTTP/1.0: no Host needed


def rule_a_head_received_into_a_bytearray_parses_the_same():
    # The runtime grows its receive buffer in place, so heads may come as bytearray.
    head = b"GET /x?y HTTP/1.1\r\nHost: h\r\nX-A: \xc3\xa9"
    assert parse_head(bytearray(head), 32) == parse_head(head, 32)
    assert status_of(parse_head, bytearray(b"GET /\x7f HTTP/1.1\r\nHost: h"), 32) == 400
    assert status_of(parse_head, bytearray(b"GET / HTTP/1.1\r\nHost: h\r\nX: \x7f"), 32) == 400
    assert has_control(bytearray(b"a\x7f")) and not has_control(bytearray(b"a\tb"))


def rule_a_malformed_request_line_is_400_and_an_unknown_version_505():
    for head in (
        b"GET /  HTTP/1.1\r\nHost: h",
        b"GET / HTTP/1.1 x\r\nHost: h",
        b"GET /\r\nHost: h",
        b"G(T / HTTP/1.1\r\nHost: h",
        b"GET /a\tb HTTP/1.1\r\nHost: h",
        b"GET /a#b HTTP/1.1\r\nHost: h",
        b"GET / HTTP/1\r\nHost: h",
        b"GET / HTTP/1.1",
    ):
        assert status_of(parse_head, head, 32) == 400, head
    assert status_of(parse_head, b"GET / HTTP/2.0\r\nHost: h", 32) == 505


def rule_malformed_fields_are_400():
    for head in (
        b"GET / HTTP/1.1\r\nHost: h\r\n folded",
        b"GET / HTTP/1.1\r\nHost: h\r\nNo colon",
        b"GET / HTTP/1.1\r\nHost: h\r\n: empty name",
        b"GET / HTTP/1.1\r\nHost: h\r\nName : space",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \xc0\xaf",
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nHost: h",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2",
    ):
        assert status_of(parse_head, head, 32) == 400, head


def rule_the_field_count_limit_is_431_past_max_headers():
    assert status_of(parse_head, head_with_fields(24), 24) is None
    assert status_of(parse_head, head_with_fields(25), 24) == 431


def rule_300_fields_get_431_without_allocating_300_objects():
    head = head_with_fields(300)
    assert status_of(parse_head, head, 24) == 431
    # Splitting the head first cost 24K on MicroPython (one object per line).
    used = allocated(parse_head, head, 24)
    assert used < 2048, used


def rule_a_host_port_must_be_digits_and_an_ip_literal_closed():
    for host, status in (
        (b"x:abc", 400),
        (b"x:8o", 400),
        (b"a:1:2", 400),
        (b"[::1", 400),
        (b"[::1]x", 400),
        (b"[]", 400),
        (b"x]", 400),
        (b"user@h", 400),
        (b"a b", 400),
        (b"x:", None),  # RFC 3986: port = *DIGIT
        (b"x:8080", None),
        (b"[::1]:8080", None),
        (b"[::1]", None),
        (b"127.0.0.1", None),
        (b"", None),
    ):
        head = b"GET / HTTP/1.1\r\nHost: " + host
        assert status_of(parse_head, head, 32) == status, host


# -------------------------------------------------------------- check_request_start


def rule_bytes_that_cannot_start_a_request_line_are_400_at_once():
    for data in (
        bytes(range(256)) * 4,
        b"G\x00T",
        b"GET /\x7f",
        b"GET\t/",
        b"\x16\x03\x01\x00\xa5\x01",
        b"G(T /",
        b" GET /",
        b"\xc3\x89T",
        b"GET /\r\r",
        b"\rGET",
        # The request line is whole, the head is not: the line is looked at.
        b"G\x00T / HTTP/1.1\r\nHost: h\r\n",
        b"GE(T / HTTP/1.1\r\nHost: h\r\n",
        b"GET /\x7f HTTP/1.1\r\n",
    ):
        assert status_of(check_request_start, data) == 400, data


def rule_the_start_of_a_valid_request_line_is_let_through():
    for data in (
        b"",
        b"\r",
        b"G",
        b"GET",
        b"GET ",
        b"GET /a%20b?x=\xc3\xa9",
        b"GET / HTTP/1.1",
        b"GET / HTTP/1.1\r",
        b"M-SEARCH * HTTP/1.1",
        bytearray(b"POST /x HTT"),
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \x7f\x00",  # the fields are parse_head's
    ):
        assert status_of(check_request_start, data) is None, data


# -------------------------------------------------------------- split_target


def rule_origin_form_targets_split_into_path_and_query():
    assert split_target("/a%20b/%C3%A9?x=1&y") == ("/a b/\u00e9", "x=1&y")
    assert split_target("/") == ("/", "")
    assert split_target("*") == ("*", "")
    assert status_of(split_target, "/%zz") == 400


def rule_absolute_form_targets_are_served_by_their_path():
    for target, expected in (
        ("http://host/hello", ("/hello", "")),
        ("http://host", ("/", "")),
        ("http://host?x=1", ("/", "x=1")),
        ("http://host:8080/a/b?c=d", ("/a/b", "c=d")),
        ("https://[::1]:8000/echo", ("/echo", "")),
        ("HTTP://h/x", ("/x", "")),
        ("svn+ssh.v-1://h/x", ("/x", "")),
        ("http://h:/x", ("/x", "")),
    ):
        assert split_target(target) == expected, target


def rule_an_invalid_absolute_uri_is_400():
    for target in (
        "http://[::1",
        "http://[::1/x",
        "http://",
        "http:///x",
        "http://:80/x",
        "http://h:8o/x",
        "http://u@h/x",
        "1http://h/x",
        "ht_tp://h/x",
        "://h/x",
        "h/x",
        KELVIN + "://h/x",
    ):
        assert status_of(split_target, target) == 400, target


# -------------------------------------------------------------- body_framing, keep-alive


def rule_body_framing_by_content_length_or_chunked():
    assert body_framing({}, "HTTP/1.1") == 0
    assert body_framing({"content-length": "42"}, "HTTP/1.1") == 42
    assert body_framing({"transfer-encoding": "chunked"}, "HTTP/1.1") is None
    assert body_framing({"transfer-encoding": "Chunked"}, "HTTP/1.1") is None
    for fields, version, status in (
        ({"content-length": "\u0665"}, "HTTP/1.1", 400),
        ({"content-length": "-1"}, "HTTP/1.1", 400),
        ({"content-length": "9" * 16}, "HTTP/1.1", 413),
        ({"transfer-encoding": "chunked", "content-length": "1"}, "HTTP/1.1", 400),
        ({"transfer-encoding": "chunked"}, "HTTP/1.0", 400),
        ({"transfer-encoding": "chunked, chunked"}, "HTTP/1.1", 400),
        ({"transfer-encoding": "gzip, chunked"}, "HTTP/1.1", 501),
        ({"transfer-encoding": "chunked, gzip"}, "HTTP/1.1", 501),
        ({"transfer-encoding": ""}, "HTTP/1.1", 501),
    ):
        assert status_of(body_framing, fields, version) == status, fields


def rule_transfer_encoding_is_compared_as_ascii():
    # On CPython "chun\u212aed".lower() == "chunked": taken as chunked before.
    assert status_of(body_framing, {"transfer-encoding": "chun" + KELVIN + "ed"}, "HTTP/1.1") == 400
    assert status_of(body_framing, {"transfer-encoding": "chunked\u00e9"}, "HTTP/1.1") == 400
    assert wants_keep_alive("HTTP/1.0", "Keep-Alive")
    assert not wants_keep_alive("HTTP/1.0", KELVIN + "eep-alive")


def rule_keep_alive_follows_the_version_and_the_connection_field():
    assert wants_keep_alive("HTTP/1.1", None) is True
    assert wants_keep_alive("HTTP/1.0", None) is False
    assert wants_keep_alive("HTTP/1.0", "Keep-Alive") is True
    assert wants_keep_alive("HTTP/1.1", "Close") is False
    assert wants_keep_alive("HTTP/1.1", "upgrade, close") is False
    assert wants_keep_alive("HTTP/1.0", KELVIN + "eep-alive") is False


# -------------------------------------------------------------- chunked


def rule_chunk_sizes_and_extensions_follow_the_rfc_9112_grammar():
    for line, size in (
        (b"5", 5),
        (b"1f", 31),
        (b"1F", 31),
        (b"00000010", 16),
        (b"0", 0),
        (b"5;a=b", 5),
        (b'5;name="quoted value"', 5),
        (b"5 ;x", 5),
        (b"5;a;b=c", 5),
        (b"5\t;\tt=1", 5),
        (b"5;a = b", 5),
        (b'5;a="x\\"y;\\\\"', 5),
        (b'5;a="\xc3\xa9"', 5),
        (bytearray(b"a;x"), 10),
    ):
        assert parse_chunk_size(line) == size, line


def rule_a_chunk_extension_outside_the_grammar_is_400():
    for line in (
        b'2;a="',  # the quoted-string does not end on its line
        b'5;a="x',
        b'5;a="x\\',
        b"5;",
        b"5;=b",
        b"5;a=",
        b"5;a=b c",
        b"5;a=b ",
        b"5 ",
        b'5;a="x"y',
        b"5;\xc3\xa9=\xc3\xa9",
        b"5;a=\x00",
        b'5;a="\x7f"',
        b"5;a=b;",
        b"",
        b"x",
        b" 5",
        b"123456789",
        b"0x5",
    ):
        assert status_of(parse_chunk_size, line) == 400, line


def rule_trailer_fields_are_checked():
    check_trailer(b"X-T: a b")
    for line in (b"not a field", b": x", b"X-T: a\x00"):
        assert status_of(check_trailer, line) == 400, line


class Conn:
    """What read_chunked needs of a connection: buffer, fill() and read_exact()."""

    def __init__(self, segments, buffer=b""):
        self.buffer = buffer
        self.segments = list(segments)
        self.fills = 0

    async def fill(self):
        if not self.segments:
            raise EOFError
        self.fills += 1
        self.buffer = self.buffer + self.segments.pop(0)

    async def read_exact(self, size):
        while len(self.buffer) < size:
            await self.fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def pieces(data, size):
    return [data[i : i + size] for i in range(0, len(data), size)]


def read(conn, max_body=4096, max_head=2048):
    """(body, None) or (None, status) of read_chunked on conn."""
    try:
        return asyncio.run(read_chunked(conn, max_body, max_head)), None
    except HTTPException as exc:
        return None, exc.status_code


NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"


def rule_a_chunked_body_is_decoded_however_it_arrives():
    encoded = b'5;a=b\r\nhello\r\n6;q="x y"\r\n world\r\n0\r\nX-T: t\r\n\r\n' + NEXT
    for size in (1, 2, 7, len(encoded)):
        for empty in (b"", bytearray()):
            conn = Conn(pieces(encoded, size), empty)
            body, status = read(conn)
            assert (body, status) == (b"hello world", None), size
            assert type(body) is bytes
            assert bytes(conn.buffer) + b"".join(conn.segments) == NEXT, size


def rule_a_one_chunk_body_is_returned_as_read_and_the_buffer_emptied():
    conn = Conn([], b"b\r\nhello world\r\n0\r\n\r\n")
    assert read(conn) == (b"hello world", None)
    assert conn.buffer == b""


def rule_an_unterminated_quoted_extension_hides_no_request():
    smuggled = b'2;a="\r\nxx\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n'
    assert read(Conn([], smuggled)) == (None, 400)


def rule_a_chunk_past_max_body_size_is_413_before_its_data_is_read():
    conn = Conn([], b"800\r\n")  # no data follows: reading it would fail
    assert read(conn, 2047) == (None, 413)
    assert conn.fills == 0
    over = b"400\r\n" + b"x" * 1024 + b"\r\n401\r\n"
    conn = Conn(pieces(over, 100))
    assert read(conn, 2048) == (None, 413)
    assert read(Conn([], b"800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n"), 2048)[0] == b"x" * 2048


def rule_broken_chunk_framing_is_400_or_431():
    for encoded, status in (
        (b"3\r\nhello\r\n0\r\n\r\n", 400),
        (b"5\r\nhelloXX0\r\n\r\n", 400),
        (b"5\r\nhello\n0\r\n\r\n", 400),
        (b"5;" + b"e" * 400 + b"\r\nhello\r\n0\r\n\r\n", 400),
        (b"0\r\nnot a field\r\n\r\n", 400),
        (b"0\r\nX-T: " + b"v" * 2100 + b"\r\n\r\n", 431),
    ):
        assert read(Conn(pieces(encoded, 3))) == (None, status), encoded


def rule_a_body_cut_short_ends_with_eof():
    try:
        asyncio.run(read_chunked(Conn([b"5\r\nhel"]), 4096, 2048))
    except EOFError:
        return
    raise AssertionError("no EOFError")


# -------------------------------------------------------------- responses


def rule_frame_response_decides_framing_and_keep_alive():
    cl = "Content-Length: 13\r\n"
    te = "Transfer-Encoding: chunked\r\n"
    close = "Connection: close\r\n"
    keep = "Connection: keep-alive\r\n"
    for args, expected in (
        (("GET", "HTTP/1.1", None, 200, 13), (cl, FIXED, True)),
        (("HEAD", "HTTP/1.1", None, 200, 13), (cl, NO_BODY, True)),
        (("GET", "HTTP/1.1", "close", 200, 13), (cl + close, FIXED, False)),
        (("GET", "HTTP/1.0", None, 200, 13), (cl + close, FIXED, False)),
        (("GET", "HTTP/1.0", "keep-alive", 200, 13), (cl + keep, FIXED, True)),
        (("GET", "HTTP/1.1", None, 200, None), (te, CHUNKED, True)),
        (("HEAD", "HTTP/1.1", None, 200, None), (te, NO_BODY, True)),
        (("GET", "HTTP/1.1", "close", 200, None), (te + close, CHUNKED, False)),
        (("GET", "HTTP/1.0", "keep-alive", 200, None), (close, UNTIL_CLOSE, False)),
        (("HEAD", "HTTP/1.0", None, 200, None), (close, NO_BODY, False)),
        (("GET", "HTTP/1.1", None, 204, 0), ("", NO_BODY, True)),
        (("GET", "HTTP/1.1", None, 304, 100), ("", NO_BODY, True)),
        (("GET", "HTTP/1.1", None, 103, None), ("", NO_BODY, True)),
        (("GET", "HTTP/1.0", "keep-alive", 204, None), (keep, NO_BODY, True)),
        (("GET", "HTTP/1.1", None, 101, None, True), ("Connection: Upgrade\r\n", NO_BODY, False)),
        (("GET", "HTTP/1.1", None, 200, 13, False, False), (cl + close, FIXED, False)),
        (("GET", "HTTP/1.1", None, 200, 0), ("Content-Length: 0\r\n", FIXED, True)),
    ):
        assert frame_response(*args) == expected, args


def rule_encode_head_writes_the_status_line_fields_and_blank_line():
    head = encode_head(200, {"Content-Type": "text/plain"}, "Content-Length: 5\r\n")
    assert head == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
    assert encode_head(204, {}) == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert encode_head(599, {}) == b"HTTP/1.1 599 \r\n\r\n"
    head = encode_head(200, {"X-N": 5}, "", None, "HTTP/1.0")
    assert head == b"HTTP/1.0 200 OK\r\nX-N: 5\r\n\r\n"
    head = encode_head(200, {"X-U": "\u00e9"})
    assert head == b"HTTP/1.1 200 OK\r\nX-U: \xc3\xa9\r\n\r\n"


def rule_encode_head_leaves_framing_to_the_connection():
    headers = {
        "content-LENGTH": "99",
        "Transfer-Encoding": "gzip",
        "CONNECTION": "keep-alive",
        "Connections": "kept",
        "X-A": "a",
    }
    head = encode_head(200, headers, "Content-Length: 2\r\nConnection: close\r\n")
    assert head == (
        b"HTTP/1.1 200 OK\r\nConnections: kept\r\nX-A: a\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n"
    ), head


def rule_encode_head_sends_one_line_per_listed_value():
    headers = {"Set-Cookie": ["a=1", "b=2"], "Vary": ("Accept", "Origin")}
    head = encode_head(200, headers)
    assert head == (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Vary: Accept\r\nVary: Origin\r\n\r\n"
    ), head


def rule_encode_head_adds_date_unless_the_handler_set_it():
    date = "Sun, 06 Nov 1994 08:49:37 GMT"
    head = encode_head(200, {"X-A": "a"}, "Content-Length: 0\r\n", date)
    assert head == (
        b"HTTP/1.1 200 OK\r\nX-A: a\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        b"Content-Length: 0\r\n\r\n"
    ), head
    head = encode_head(200, {"date": "mine"}, "", date)
    assert head == b"HTTP/1.1 200 OK\r\ndate: mine\r\n\r\n", head


def rule_encode_head_refuses_what_would_break_the_head():
    for headers in (
        {"X-A": "a\r\nInjected: 1"},
        {"X-A": "a\nb"},
        {"X-A\r\nB": "a"},
        {"Bad Name": "a"},
        {"": "a"},
        {"X\u00e9": "a"},
        {"Set-Cookie": ["a=1", "b\r\n"]},
    ):
        try:
            encode_head(200, headers)
        except ValueError:
            continue
        raise AssertionError(headers)


def rule_reason_phrases_cover_the_statuses_the_server_sends():
    for status, phrase in (
        (200, "OK"),
        (101, "Switching Protocols"),
        (206, "Partial Content"),
        (412, "Precondition Failed"),
        (416, "Range Not Satisfiable"),
        (431, "Request Header Fields Too Large"),
        (504, "Gateway Timeout"),
        (505, "HTTP Version Not Supported"),
        (507, "Insufficient Storage"),
        (299, ""),
        (20, ""),
    ):
        assert reason(status) == phrase, status


def rule_http_date_is_the_imf_fixdate():
    assert http_date((1994, 11, 6, 8, 49, 37, 6, 310)) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date(time.gmtime(784111777)) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert http_date((2026, 1, 1, 0, 0, 0, 3, 1)) == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert http_date((2024, 12, 30, 23, 59, 5, 0, 365)) == "Mon, 30 Dec 2024 23:59:05 GMT"


# -------------------------------------------------------------- what did not change


def rule_the_small_helpers_keep_their_behaviour():
    assert is_token(b"GET") and is_token(b"X!#$%&'*+-.^_`|~9")
    assert not is_token(b"") and not is_token(b"a b") and not is_token(b"\xc3\xa9")
    assert has_control(b"a\x00") and has_control(b"\x7f") and not has_control(b"a\tb\xff")
    assert decode(b"\xc3\xa9") == "\u00e9"
    assert status_of(decode, b"\xed\xa0\x80") == 400
    assert unquote(b"a%2Fb+c") == "a/b+c" and unquote(b"a+b", True) == "a b"
    assert status_of(unquote, b"%e9") == 400
    assert parse_query("a=1&a=2&b&=c&") == {"a": ["1", "2"], "b": [""], "": ["c"]}
    assert parse_query(b"x=%C3%A9") == {"x": ["\u00e9"]}


RULES = [value for name, value in sorted(globals().items()) if name.startswith("rule_")]


def main():
    for rule in RULES:
        rule()
    print("passed", len(RULES))


if pytest is not None:

    @pytest.mark.parametrize("rule", RULES, ids=[c.__name__[5:] for c in RULES])
    def test_on_cpython(rule):
        rule()

    def test_chunk_lines_agree_with_the_rfc_9112_grammar():
        """parse_chunk_size against the grammar of RFC 9112 7.1 as a regular
        expression, on random lines from the bytes that matter."""
        import random
        import re

        token = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
        quoted = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
        ext = rb"[ \t]*;[ \t]*" + token + rb"(?:[ \t]*=[ \t]*(?:" + token + rb"|" + quoted + rb"))?"
        grammar = re.compile(rb"([0-9A-Fa-f]{1,8})(?:" + ext + rb")*")
        alphabet = [b"0", b"a", b"F", b";", b" ", b"\t", b"=", b'"', b"\\", b"x", b"\x00"]
        alphabet += [b"\x7f", b"\xc3\xa9", b"-", b",", b"\r"]
        rng = random.Random(9112)
        for _ in range(20000):
            line = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
            match = grammar.fullmatch(line)
            expected = int(match.group(1), 16) if match else None
            try:
                got = parse_chunk_size(line)
            except HTTPException as exc:
                assert exc.status_code == 400
                got = None
            assert got == expected, line

    # A chunked body of CHUNKS chunks of 4 KiB and then `last`, produced as
    # the board's channel would: reads of at most 512 bytes, never held whole.
    BIG_BODY = """
import asyncio, sys
from httpserver.chunked import read_chunked
from httpserver.errors import HTTPException

CHUNKS = int(sys.argv[1])

class Conn:
    def __init__(self, last):
        self.buffer = b""
        self.chunk = self.part = 0
        self.last = last

    def next_read(self):
        if self.chunk == CHUNKS:
            self.chunk += 1
            return self.last
        if self.chunk > CHUNKS:
            raise EOFError
        self.part += 1
        if self.part == 1:
            return b"1000\\r\\n"
        if self.part <= 9:
            return bytes(512)
        self.chunk += 1
        self.part = 0
        return b"\\r\\n"

    async def fill(self):
        data = self.next_read()
        self.buffer = self.buffer + data if self.buffer else data

for last in (b"1\\r\\nb\\r\\n0\\r\\n\\r\\n", b"0\\r\\n\\r\\n"):
    try:
        print(len(asyncio.run(read_chunked(Conn(last), 1048576, 4096))))
    except HTTPException as exc:
        print(exc.status_code)
    except MemoryError:
        print("MemoryError")
"""

    @pytest.mark.parametrize(
        "heap, chunks, expected",
        [
            ("160K", 256, ["413", "MemoryError"]),  # 1 MiB + 1, then 1 MiB
            (None, 64, ["262145", "262144"]),  # 256 KiB: held and returned
        ],
    )
    def test_a_chunked_body_larger_than_the_heap_is_read_to_its_end(
        tmp_path, heap, chunks, expected
    ):
        """On a 160K heap, 1 MiB + 1 byte of chunks (max_body_size 1 MiB) gets its
        413, and 1 MiB exactly a MemoryError (the server's 503), not a failed
        read half way; a body the heap holds is returned."""
        script = tmp_path / "big_body.py"
        script.write_text(BIG_BODY)
        out = subprocess.run(
            runtime_command("micropython", heap) + [str(script), str(chunks)],
            env=runtime_env("micropython"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.stdout.split() == expected, out.stdout + out.stderr

    CANCELLED_DRAIN = """
import asyncio, socket, sys
from httpserver import runtime

async def main():
    address = socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen(1)
    client = socket.socket()  # connects and never reads
    client.connect(address)
    accepted = listener.accept()[0]
    accepted.setblocking(False)
    channel = runtime.Channel(accepted)
    channel.patience_ms = 60000
    channel.write(bytes(8 << 20))  # more than the socket takes
    draining = asyncio.create_task(channel.drain())
    await asyncio.sleep(0.1)
    print(channel.write_deadline is not None)  # waiting for the client
    draining.cancel()
    await asyncio.sleep(0.05)
    print(channel.write_deadline)  # another writer may drain now

asyncio.run(main())
"""

    def test_a_cancelled_drain_leaves_no_write_in_progress(tmp_path):
        """A WebSocket's second writer (a hub's reader answering a ping)
        starts a drain only when none is running: one cancelled half way
        must not look as if it still were."""
        script = tmp_path / "cancelled_drain.py"
        script.write_text(CANCELLED_DRAIN)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        out = subprocess.run(
            runtime_command("micropython", "32M") + [str(script), str(port)],
            env=runtime_env("micropython"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.stdout.split() == ["True", "None"], out.stdout + out.stderr

    def test_the_rules_hold_under_micropython():
        env = runtime_env("micropython", [REPO / "host_tests"])
        out = subprocess.run(
            runtime_command("micropython") + [__file__],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.stdout.strip() == "passed %d" % len(RULES), out.stdout + out.stderr


if __name__ == "__main__":
    main()


def test_form_encoding_escapes_all_but_ascii_unreserved_and_reads_back():
    from httpserver.forms import urlencode

    # "²" is a digit to str.isdigit(): its UTF-8 bytes are escaped all the same.
    text = urlencode([("a", "x²"), ("b c", "é-._~ +&=")])
    assert text == "a=x%C2%B2&b+c=%C3%A9-._~+%2B%26%3D"
    assert parse_query(text) == {"a": ["x²"], "b c": ["é-._~ +&="]}
