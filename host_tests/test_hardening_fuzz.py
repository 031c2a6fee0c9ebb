"""Issue 7, point 2: property-based fuzzing of the parser, and a saved corpus of
generated whole requests replayed against the running server on both runtimes.

In process (CPython, hypothesis): every function of httpserver.protocol that
sees client bytes either returns something well formed or raises
HTTPException with a status that fits (never another exception), and agrees
with a reference (CPython's strict UTF-8, urllib's query parser, the chunk-size
grammar, a model of the requests the generator below builds).

Over sockets (both runtimes): host_tests/corpus/fuzz_requests.json holds
requests built by a structure-aware generator from a fixed seed. Each entry
is one kept-alive connection carrying a plain request A, an odd one M and a
plain request B, sent pipelined, one after the other, or in small TCP
segments. M is either a valid but unusual request whose answer a model
predicts (odd methods, encoded paths, queries, repeated and case-varied
fields, chunked bodies with extensions and trailers, Expect, HTTP/1.0, every
limit at and just past its value), or a mutation of one (bytes replaced,
inserted, dropped; framing fields corrupted). Never a 500, nothing escaping
to the server log, and no state crossing requests: B gets exactly its own
echo whenever the connection lives on after M.

Regenerate the corpus (after changing the generator or the app's limits):
    python host_tests/test_hardening_fuzz.py --write
"""

import json
import os
import random
import re
import socket
import string
import sys
import time
from urllib.parse import parse_qs, unquote_to_bytes

import pytest
from conftest import LIB, RUNTIMES
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_hardening_common import (
    CORPUS,
    ESCAPE_MARKERS,
    Reply,
    read_all,
    start_hardening,
    to_bytes,
    to_text,
)

if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))

from httpserver.chunkgrammar import check_trailer, parse_chunk_size  # noqa: E402
from httpserver.errors import HTTPException, InvalidBody  # noqa: E402
from httpserver.head import parse_head  # noqa: E402
from httpserver.protocol import (  # noqa: E402
    body_framing,
    decode,
    parse_query,
    split_target,
)
from httpserver.request import Headers, Request  # noqa: E402

CORPUS_FILE = CORPUS / "fuzz_requests.json"
SEED = 20240907

# The limits of host_tests/apps/hardening_app.py.
MAX_BODY = 4096
MAX_LINE = 512
MAX_HEAD = 2048
MAX_HEADERS = 24
READ_TIMEOUT = 1.0

TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
# derandomize: the same examples on every run, so a result never depends on luck.
# HARDENING_FUZZ_EXAMPLES=20000 searches longer (by hand; minutes).
FUZZ = settings(
    max_examples=int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "300")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


# ============================================================================
# The structure-aware generator (used by hypothesis in process and, with a
# fixed seed, to write the saved corpus).
# ============================================================================

UNRESERVED = string.ascii_letters + string.digits + "-._~"
PATH_DELIMS = "!$&'()*+,;=:@"
ENCODABLE = [
    "a",
    "Z",
    "0",
    "/",
    "?",
    "#",
    "%",
    " ",
    "+",
    "&",
    "=",
    ";",
    "\u00e9",
    "\u20ac",
    "\U0001f600",
    "\x00",
    "\n",
    "\r",
    "\x7f",
    "\u00fc",
    "~",
    "\"",
    "\\",
    ".",
]
RAW_UTF8 = ["\u00e9", "\u20ac", "\u00fc", "\U0001f600", "\u00df", "\u4e2d"]
HEADER_NAMES = [
    "Accept",
    "User-Agent",
    "Accept-Language",
    "Cache-Control",
    "X-Request-Id",
    "Cookie",
    "Content-Type",
    "Referer",
    "If-None-Match",
    "X-Forwarded-For",
    "Authorization",
    "Accept-Encoding",
    "Origin",
    "DNT",
    "Pragma",
]
VALUE_CHARS = string.ascii_letters + string.digits + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _pct(rng, char):
    return "".join(("%%%02X" if rng.random() < 0.5 else "%%%02x") % b for b in char.encode())


def _path_piece(rng):
    """(raw, decoded) of one piece of a path segment."""
    kind = rng.random()
    if kind < 0.55:
        c = rng.choice(UNRESERVED)
        return c, c
    if kind < 0.7:
        c = rng.choice(PATH_DELIMS)
        return c, c
    if kind < 0.93:
        c = rng.choice(ENCODABLE)
        return _pct(rng, c), c
    c = rng.choice(RAW_UTF8)
    return c, c


def _segment(rng):
    roll = rng.random()
    if roll < 0.06:
        return ".", "."
    if roll < 0.1:
        return "..", ".."
    if roll < 0.14:
        return "", ""
    pieces = [_path_piece(rng) for _ in range(rng.randint(1, 10))]
    return "".join(p[0] for p in pieces), "".join(p[1] for p in pieces)


def _query_piece(rng, in_value):
    """(raw, decoded) of one piece of a query key or value."""
    kind = rng.random()
    if kind < 0.5:
        c = rng.choice(UNRESERVED)
        return c, c
    if kind < 0.6:
        return "+", " "
    if kind < 0.7:
        c = rng.choice("!$'()*,;:@/?" + ("=" if in_value else ""))
        return c, c
    if kind < 0.93:
        c = rng.choice(ENCODABLE)
        return _pct(rng, c), c
    c = rng.choice(RAW_UTF8)
    return c, c


def _query(rng):
    """(raw query string, expected params or None when it cannot be decoded)."""
    pairs = []
    params = {}
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.1:
            pairs.append("")  # an empty pair between two '&'
            continue
        key = [_query_piece(rng, False) for _ in range(rng.randint(0, 6))]
        raw_key, key_text = "".join(p[0] for p in key), "".join(p[1] for p in key)
        if rng.random() < 0.2:
            value = None
            raw = raw_key
        else:
            value = [_query_piece(rng, True) for _ in range(rng.randint(0, 8))]
            raw = raw_key + "=" + "".join(p[0] for p in value)
        if not raw:
            pairs.append("")
            continue
        pairs.append(raw)
        value_text = "" if value is None else "".join(p[1] for p in value)
        if value_text:  # query_params leaves blank values out, as parse_qs does
            params.setdefault(key_text, []).append(value_text)
    query = "&".join(pairs)
    if rng.random() < 0.08:
        # Percent-encoding the handler cannot decode: a 400 from the app.
        bad = rng.choice(["%zz", "%e9", "%", "%4", "%c3%28", "%ed%a0%80", "%c0%af"])
        spot = rng.randint(0, len(query))
        query = query[:spot] + bad + query[spot:]
        params = None
    return query, params


def _value(rng):
    """(raw header value, value as the app sees it)."""
    pieces = []
    for _ in range(rng.randint(0, 14)):
        roll = rng.random()
        if roll < 0.8:
            pieces.append(rng.choice(VALUE_CHARS))
        elif roll < 0.9:
            pieces.append(rng.choice(" \t"))
        else:
            pieces.append(rng.choice(RAW_UTF8))
    text = "".join(pieces)
    raw = text
    if rng.random() < 0.3:
        raw = rng.choice([" ", "  ", "\t", " \t"]) + raw
    if rng.random() < 0.2:
        raw = raw + rng.choice([" ", "\t", " \t "])
    if rng.random() < 0.2:
        raw = raw.lstrip(" \t")  # no space after the colon at all
    return raw, raw.strip(" \t")


def _name(rng):
    if rng.random() < 0.5:
        name = rng.choice(HEADER_NAMES)
    else:
        name = "X-F" + "".join(rng.choice(TOKEN) for _ in range(rng.randint(0, 10)))
    roll = rng.random()
    if roll < 0.15:
        name = name.lower()
    elif roll < 0.25:
        name = name.upper()
    return name


def _chunked(rng, body):
    """A chunked encoding of body: random sizes, hex case, zeros, extensions, trailers."""
    out = bytearray()
    rest = body
    while rest:
        size = rng.randint(1, max(1, len(rest))) if rng.random() < 0.7 else len(rest)
        part, rest = rest[:size], rest[size:]
        digits = "%x" % size if rng.random() < 0.5 else "%X" % size
        if rng.random() < 0.2:
            digits = "0" * rng.randint(1, 8 - len(digits)) + digits
        out += digits.encode() + _chunk_ext(rng) + b"\r\n" + part + b"\r\n"
    out += (b"0" * rng.randint(1, 3)) + _chunk_ext(rng) + b"\r\n"
    for i in range(rng.choice([0, 0, 0, 1, 2])):
        raw, _ = _value(rng)
        out += ("X-Trailer-%d:%s\r\n" % (i, raw)).encode()
    out += b"\r\n"
    return bytes(out)


def _chunk_ext(rng):
    return rng.choice(
        [
            b"",
            b"",
            b"",
            b";a=b",
            b";name=\"quoted value\"",
            b" ;x",
            b";a;b=c",
            b"\t;\tt=1",
            b";x=\"caf\xc3\xa9\"",
        ]
    )


def _body(rng, big):
    if big:
        size = rng.choice([MAX_BODY, MAX_BODY - 1, MAX_BODY + 1, rng.randint(2000, MAX_BODY + 300)])
    else:
        size = rng.choice([0, rng.randint(1, 16), rng.randint(1, 100), rng.randint(100, 600)])
    if rng.random() < 0.3:
        return bytes(rng.getrandbits(8) for _ in range(size))  # binary
    # Mostly text, which keeps the saved corpus small and readable.
    return bytes(rng.choice(b"abcxyz0123456789 {}[]\":,\r\n\t=&%+") for _ in range(size))


def generate(rng, marker, plain=False):
    """One request: (bytes, model) where the model says what the server must answer.

    plain: a simple request that keeps the connection and gets a 200 echo
    (the A and B around an odd request).
    """
    version = "HTTP/1.1"
    if not plain and rng.random() < 0.12:
        version = "HTTP/1.0"
    if plain:
        method = rng.choice(["GET", "POST"])
    else:
        method = rng.choice(
            ["GET"] * 6
            + ["POST"] * 6
            + [
                "PUT",
                "DELETE",
                "PATCH",
                "HEAD",
                "OPTIONS",
                "BREW",
                "get",
                "PROPFIND",
                "M-SEARCH",
                "X!#$%&'*+.^_`|~",
            ]
        )
    # Target ---------------------------------------------------------------------------------
    roll = rng.random()
    if plain or roll < 0.35:
        raw_path, path = "/echo", "/echo"
        if rng.random() < 0.5:
            segments = [_segment(rng) for _ in range(rng.randint(1, 4))]
            raw_path += "/" + "/".join(s[0] for s in segments)
            path += "/" + "/".join(s[1] for s in segments)
    elif roll < 0.9:
        segments = [_segment(rng) for _ in range(rng.randint(1, 4))]
        raw_path = "/echo/" + "/".join(s[0] for s in segments)
        path = "/echo/" + "/".join(s[1] for s in segments)
    else:
        raw_path = path = "/nope-" + "".join(rng.choice(UNRESERVED) for _ in range(6))
    query, params = ("", {})
    has_query = rng.random() < 0.45
    if has_query:
        query, params = _query(rng)
        if plain and params is None:
            query, params = "a=1", {"a": ["1"]}
    suffix = "?" + query if has_query else ""
    prefix = ""
    if not plain and rng.random() < 0.06:
        prefix = rng.choice(["http://h", "http://example.com:8080", "https://[::1]"])
    target = prefix + raw_path + suffix
    # Header fields -----------------------------------------------------------------------------
    fields = []  # (raw name, raw value)
    model_headers = {}

    def add(name, raw, value):
        fields.append((name, raw))
        key = name.lower()
        if key in model_headers:
            model_headers[key] += ("; " if key == "cookie" else ", ") + value
        else:
            model_headers[key] = value

    if version == "HTTP/1.1" or rng.random() < 0.5:
        host = rng.choice(["h", "127.0.0.1", "example.com:8080", "[::1]:8000", "xn--bcher-kva.ch"])
        add(rng.choice(["Host", "host", "HOST"]), rng.choice(["", " "]) + host, host)
    add("X-Seq", " " + marker, marker)
    if not plain:
        for _ in range(rng.choice([0, 1, 2, 3, 5, 8])):
            name = _name(rng)
            raw, value = _value(rng)
            add(name, raw, value)
    connection = None
    if plain:
        if rng.random() < 0.2:
            connection = "keep-alive"
    else:
        connection = rng.choice([None] * 7 + ["keep-alive", "Keep-Alive", "close", "Close"])
    if connection:
        add("Connection", " " + connection, connection)
    expect = not plain and version == "HTTP/1.1" and rng.random() < 0.1
    if expect:
        value = rng.choice(["100-continue", "100-Continue"])
        add("Expect", " " + value, value)
    # Body and its framing --------------------------------------------------------------------
    framing = rng.random()
    body = b""
    payload = b""
    chunked = False
    if method in ("POST", "PUT", "PATCH") and framing < 0.85 or framing < 0.2:
        body = _body(rng, big=not plain and rng.random() < 0.06)
        if plain:
            body = body[:100]
        if version == "HTTP/1.1" and not plain and rng.random() < 0.35:
            chunked = True
            coding = rng.choice(["chunked", "Chunked", "CHUNKED"])
            add(
                "Transfer-Encoding",
                rng.choice([" ", "", "  "]) + coding + rng.choice(["", " ", "\t"]),
                coding,
            )
            payload = _chunked(rng, body)
        else:
            length = str(len(body))
            raw = rng.choice([length, length, length, "00" + length])
            add("Content-Length", " " + raw, raw)
            if rng.random() < 0.05:
                fields.append(("content-length", raw))  # the same value again: allowed
            payload = body
    elif rng.random() < 0.1:
        add("Content-Length", " 0", "0")
    # Limits, at their value and just past it ------------------------------------------------------
    reject = None
    if not plain and rng.random() < 0.12:
        which = rng.choice(["line", "line", "count", "count", "head", "head", "host"])
        over = rng.random() < 0.5
        if which == "line":
            # The request line exactly MAX_LINE bytes long, or one more: the
            # path grows (before any query).
            line = "%s %s %s" % (method, target, version)
            pad = MAX_LINE - len(line.encode()) + (1 if over else 0)
            if pad > 1 and raw_path.startswith("/echo") and path != "/echo":
                raw_path += "a" * pad
                path += "a" * pad
                target = prefix + raw_path + suffix
                reject = 414 if over else None
        elif which == "count":
            while len(fields) < MAX_HEADERS + (1 if over else 0):
                name, (raw, value) = "X-Pad-%d" % len(fields), ("p", "p")
                add(name, raw, value)
            reject = 431 if len(fields) > MAX_HEADERS else None
        elif which == "host" and "host" in model_headers:
            fields.append(("Host", "other"))
            reject = 400
        else:
            head_length = len(_head(method, target, version, fields))
            pad = MAX_HEAD - head_length - len("X-Pad: \r\n") + (1 if over else 0)
            if pad >= 0 and len(fields) < MAX_HEADERS:
                add("X-Pad", " " + "p" * pad, "p" * pad)
                reject = 431 if over else None
        if reject is None and (
            len(fields) > MAX_HEADERS or len(_head(method, target, version, fields)) > MAX_HEAD
        ):
            reject = 431
    line_length = len(("%s %s %s" % (method, target, version)).encode())
    if reject is None and line_length > MAX_LINE:
        reject = 414
    if reject is None and len(fields) > MAX_HEADERS:
        reject = 431
    if reject is None and len(_head(method, target, version, fields)) > MAX_HEAD:
        reject = 431
    data = _head(method, target, version, fields) + b"\r\n\r\n" + payload
    if not plain and rng.random() < 0.05:
        data = b"\r\n" * rng.randint(1, 3) + data  # empty lines before a request: ignored
    # The model ------------------------------------------------------------------------------
    model = {
        "method": method,
        "head": method == "HEAD",
        "interim": False,
        "dispatched": False,
        "echo": None,
        "close": False,
        "version": version,
        "parsed": {
            "method": method,
            "target": target,
            "version": version,
            "headers": model_headers,
            "path": path,
            "query": query if has_query else "",
        },
        "framing": None if chunked else len(body) if "content-length" in model_headers else 0,
    }
    if reject is None and len(body) > MAX_BODY:
        reject = 413
        if chunked and expect:
            model["interim"] = True  # 100 Continue, then the chunks are counted
    if reject is not None:
        # The answer to a HEAD has no body, a rejection's included (RFC 9110 9.3.2).
        model.update(status=reject, close=True)
        return data, model
    if expect and (body or chunked):
        model["interim"] = True
    keep = (version == "HTTP/1.1") if connection is None else connection.lower() == "keep-alive"
    model["close"] = not keep
    model["keep_alive_1_0"] = keep and version == "HTTP/1.0"
    model["dispatched"] = True
    if path == "/echo" or (path.startswith("/echo/") and len(path) > 6):
        rest = None if path == "/echo" else path[6:]
        if method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
            if params is None:
                model["status"] = 400
            else:
                model["status"] = 200
                model["echo"] = {
                    "method": method,
                    "path": path,
                    "rest": rest,
                    "query_string": query if has_query else "",
                    "query_params": params,
                    "headers": model_headers,
                    "body": body.hex(),
                    "version": version,
                    "path_params": {} if rest is None else {"rest": rest},
                    "marker": "set-by-before",
                }
        elif method == "OPTIONS":
            model["status"] = 204
        else:
            model["status"] = 405
    else:
        model["status"] = 404
    return data, model


def _head(method, target, version, fields):
    lines = ["%s %s %s" % (method, target, version)]
    lines += ["%s:%s" % field for field in fields]
    return "\r\n".join(lines).encode()


# Mutations of a valid request ------------------------------------------------------------------

INTERESTING = [
    b"\x00",
    b"\r",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b":",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"%",
    b",",
    b";",
    b"\xc3",
    b"\xc3\xa9",
    b"\x0b",
    b"\x0c",
    b"\x1b",
    b"\"",
    b"0",
    b"\r\n\r\n",
    b"\r\n ",
    b"#",
    b"?",
    b"/",
    b"\\",
    b"\xed\xa0\x80",
    b"\xc0\xae",
]
FRAMING_VALUES = [
    b"+5",
    b"-1",
    b"0x10",
    b"1_0",
    b"5 5",
    b"5, 5",
    b"",
    b"99999999999999999999",
    b"4097",
    b"1",
    b"0",
    b"007",
    b"\xd9\xa5",
    b" 3 ",
]
CODINGS = [
    b"chunked, chunked",
    b"gzip, chunked",
    b"chunked, gzip",
    b"identity",
    b"\x0bchunked",
    b"chunked;q=1",
    b"\"chunked\"",
    b"xchunked",
    b"chunk",
    b"",
    b"CHUNKED",
]
CHUNK_SIZES = [
    b"fffffffff",
    b"-1",
    b"0x5",
    b"5 ",
    b" 5",
    b"+5",
    b"",
    b"5;\x00",
    b"5;\x7f\xc3\xa9",
    b"1" * 9,
    b"00000000001",
    b"g",
]


def mutate(rng, data):
    """A request changed by one to three mutations, byte or field level."""
    head_end = data.find(b"\r\n\r\n")
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.2 and data:  # replace a byte
            i = rng.randrange(len(data))
            data = data[:i] + rng.choice(INTERESTING) + data[i + 1 :]
        elif kind < 0.35:  # insert
            i = rng.randint(0, len(data))
            data = data[:i] + rng.choice(INTERESTING) + data[i:]
        elif kind < 0.45 and data:  # delete a few bytes
            i = rng.randrange(len(data))
            data = data[:i] + data[i + rng.randint(1, 4) :]
        elif kind < 0.52 and data:  # duplicate a slice
            i = rng.randrange(len(data))
            j = min(len(data), i + rng.randint(1, 40))
            data = data[:j] + data[i:j] + data[j:]
        elif kind < 0.58 and data:  # truncate
            data = data[: rng.randrange(len(data))]
        elif kind < 0.66:  # Content-Length with an odd value, maybe next to another
            line = b"Content-Length: " + rng.choice(FRAMING_VALUES) + b"\r\n"
            data = _insert_field(rng, data, line)
        elif kind < 0.74:  # Transfer-Encoding in odd shapes
            line = (
                rng.choice(
                    [
                        b"Transfer-Encoding: ",
                        b"Transfer-Encoding:",
                        b"transfer-encoding : ",
                        b"Transfer-Encoding:\t",
                    ]
                )
                + rng.choice(CODINGS)
                + b"\r\n"
            )
            data = _insert_field(rng, data, line)
        elif kind < 0.8:  # a chunked body with a broken chunk size
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                data = (
                    data[:end]
                    + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + rng.choice(CHUNK_SIZES)
                    + b"\r\nhello\r\n0\r\n\r\n"
                )
        elif kind < 0.86:  # obs-fold, or whitespace before a colon
            end = data.find(b"\r\n")
            if end >= 0:
                extra = rng.choice([b"\r\n folded", b"\r\n\tfolded", b" ", b"\t"])
                spot = data.find(b":", end)
                if extra in (b" ", b"\t") and spot > 0:
                    data = data[:spot] + extra + data[spot:]
                else:
                    data = data[:end] + b"\r\nX-A: a" + extra + data[end:]
        elif kind < 0.92:  # line endings
            ending = rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r"])
            data = data.replace(b"\r\n", ending, rng.randint(1, 3))
        elif kind < 0.96:  # the version or method
            first = data.find(b" ")
            if first > 0 and rng.random() < 0.5:
                method = rng.choice([b"G\x00T", b"GET\t", b"", b"POST /x", b"\xc3\x89"])
                data = method + data[first:]
            else:
                version = rng.choice(
                    [b"HTTP/1.2", b"HTTP/2.0", b"http/1.1", b"HTTP/1.1 ", b"HTTP/11", b"HTTP/1.01"]
                )
                data = data.replace(b"HTTP/1.1", version, 1)
        else:  # a long run of one byte somewhere in the head
            i = rng.randint(0, max(0, head_end))
            data = (
                data[:i]
                + rng.choice([b"a", b"%", b"/", b" ", b"\r\n"]) * rng.choice([100, 600, 2100])
                + data[i:]
            )
    return data


def _insert_field(rng, data, line):
    first = data.find(b"\r\n")
    if first < 0:
        return data + b"\r\n" + line
    spot = first + 2
    if rng.random() < 0.5:
        end = data.find(b"\r\n\r\n")
        spot = end + 2 if end >= 0 else spot
    return data[:spot] + line + data[spot:]


def plain(rng, marker):
    """A request that gets a 200 echo and keeps the connection."""
    while True:
        data, model = generate(rng, marker, plain=True)
        if model["status"] == 200 and not model["close"]:
            return data, model


def build_corpus(seed=SEED, valid=150, mutated=110):
    rng = random.Random(seed)
    entries = []
    for n in range(valid + mutated):
        kind = "valid" if n < valid else "mutated"
        ident = "%s-%03d" % (kind[0], n)
        a, a_model = plain(rng, ident + "-a")
        m, m_model = generate(rng, ident + "-m")
        while kind == "mutated" and m_model["head"]:
            # (Whether the answer to a mangled HEAD has a body is not knowable.)
            m, m_model = generate(rng, ident + "-m")
        b, b_model = plain(rng, ident + "-b")
        if kind == "mutated":
            m, m_model = mutate(rng, m), None
            mode = "pipelined"
            segments = None
        else:
            mode = rng.choice(["pipelined"] * 5 + ["sequential"] * 3 + ["segmented"] * 2)
            segments = None
            if mode == "segmented":
                total = len(a) + len(m) + len(b)
                segments = []
                while sum(segments) < total:
                    segments.append(rng.choice([1, 2, 3, 7, 16, 40, 100, 333]))
        models = [a_model, m_model, b_model]
        for model in models:
            if model is not None:  # what only the in-process test needs
                del model["parsed"], model["framing"]
        entries.append(
            {
                "id": ident,
                "kind": kind,
                "mode": mode,
                "segments": segments,
                "requests": [to_text(a), to_text(m), to_text(b)],
                "models": models,
            }
        )
    return {
        "seed": SEED,
        "limits": {
            "max_body_size": MAX_BODY,
            "max_request_line": MAX_LINE,
            "max_head_size": MAX_HEAD,
            "max_headers": MAX_HEADERS,
        },
        "entries": entries,
    }


# ============================================================================
# Part 1: the parser in process (CPython), with hypothesis
# ============================================================================


def fails_with(function, statuses, *args):
    """function(*args), or None when it raised an HTTP error with one of statuses."""
    try:
        return function(*args)
    except (HTTPException, InvalidBody) as exc:
        assert exc.status_code in statuses, (function.__name__, args, exc.status_code, exc)
        return None


def no_controls(text):
    """RFC 9110 field values and targets: no CTL (0x00-0x1F but HTAB, and 0x7F DEL)."""
    return not any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in text)


interesting_bytes = st.sampled_from(
    INTERESTING
    + [b"chunked", b"Content-Length", b"Host", b"Transfer-Encoding", b"9" * 20, b"HTTP/1.1"]
)
fragment = st.one_of(
    st.binary(max_size=6), interesting_bytes, st.text(TOKEN, max_size=8).map(str.encode)
)
head_line = st.lists(fragment, max_size=8).map(b"".join)
raw_heads = st.one_of(
    st.binary(max_size=300),
    st.lists(head_line, min_size=1, max_size=12).map(b"\r\n".join),
    st.tuples(
        st.sampled_from([b"GET", b"POST", b"G\xc3\x89T", b"get"]),
        st.lists(fragment, max_size=6).map(b"".join),
        st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.10", b"HTTP/1"]),
        st.lists(
            st.tuples(
                st.one_of(
                    st.sampled_from([b"Host", b"Content-Length", b"Transfer-Encoding", b"X-A"]),
                    st.binary(max_size=6),
                ),
                st.sampled_from([b":", b": ", b" :", b":\t", b""]),
                st.lists(fragment, max_size=5).map(b"".join),
            ),
            max_size=8,
        ),
    ).map(
        lambda t: b"\r\n".join(
            [t[0] + b" /" + t[1] + b" " + t[2]] + [n + s + v for n, s, v in t[3]]
        )
    ),
)


def check_parsed_head(head, max_headers=MAX_HEADERS):
    """parse_head and what the server does next with its result: only fitting HTTPExceptions."""
    parsed = fails_with(parse_head, (400, 431, 505), head, max_headers, Headers())
    if parsed is None:
        return None
    method, target, version, headers = parsed
    assert isinstance(method, str) and method and all(c in TOKEN for c in method), parsed
    assert isinstance(target, str) and target and no_controls(target), parsed
    assert " " not in target and "#" not in target, parsed
    assert version in ("HTTP/1.1", "HTTP/1.0"), parsed
    for name, value in headers.items():
        assert name and all(c in TOKEN for c in name) and name == name.lower(), parsed
        assert isinstance(value, str) and no_controls(value), (name, value, head)
        # Each field line's value is stripped (combining repeated fields as
        # "a, " + "" may leave a trailing space; that is harmless).
        assert value == value.lstrip(" \t"), parsed
    if version == "HTTP/1.1":
        assert "host" in headers, parsed
    split = fails_with(split_target, (400,), target)
    if split is not None:
        path, query = split
        assert isinstance(path, str) and isinstance(query, str)
        fails_with(parse_query, (400,), query)
    framing = fails_with(body_framing, (400, 413, 501), headers, version)
    assert framing is None or isinstance(framing, int) and framing >= 0
    return parsed


@FUZZ
@given(raw_heads)
@example(b"GET /echo HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\xc3\xa9")  # DEL next to non-ASCII
@example(b"GET /echo\x7f\xc3\xa9 HTTP/1.1\r\nHost: h")
@example(b"GET /echo HTTP/1.1\r\nHost: h\r\nX-A: \t\x7f\xff")
def test_parse_head_never_fails_otherwise(head):
    check_parsed_head(head)


@FUZZ
@given(st.randoms(use_true_random=False), st.booleans())
def test_parse_head_matches_the_generator_model(rng, mutated):
    """Heads the generator builds parse to exactly what it meant; mutated ones fail cleanly."""
    data, model = generate(rng, "x-seq", plain=False)
    if mutated:
        data, model = mutate(rng, data), None
    data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    head = data[:end] if end >= 0 else data
    parsed = check_parsed_head(head)
    if (
        model is None
        or model["status"] in (414, 431)
        or (model["status"] == 400 and not model["dispatched"])
    ):
        return  # mutated, or past a limit, or a repeated Host: rejected above
    expected = model["parsed"]
    assert parsed is not None, (data, model)
    method, target, version, headers = parsed
    assert (method, target, version) == (
        expected["method"],
        expected["target"],
        expected["version"],
    )
    assert dict(headers) == expected["headers"], (data, headers)
    assert split_target(target) == (expected["path"], expected["query"])
    assert body_framing(headers, version) == model["framing"], (data, headers)
    if model["echo"] is not None:
        parsed_query = parse_query(expected["query"])
        without_blanks = {k: [v for v in vs if v] for k, vs in parsed_query.items() if any(vs)}
        assert without_blanks == model["echo"]["query_params"]
    elif model["status"] == 400:
        with pytest.raises(HTTPException):
            parse_query(expected["query"])


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=40),
        st.lists(
            st.sampled_from(
                [
                    b"\xc0",
                    b"\xc1",
                    b"\xc2",
                    b"\xdf",
                    b"\xe0",
                    b"\xed",
                    b"\xef",
                    b"\xf0",
                    b"\xf4",
                    b"\xf5",
                    b"\xff",
                    b"\x80",
                    b"\x8f",
                    b"\x90",
                    b"\x9f",
                    b"\xa0",
                    b"\xbf",
                    b"a",
                ]
            ),
            max_size=8,
        ).map(b"".join),
    )
)
def test_decode_is_strict_utf8(data):
    try:
        expected = data.decode("utf-8")
    except UnicodeDecodeError:
        expected = None
    assert fails_with(decode, (400,), data) == expected, data


# Characters of a query as a client might send it, broken encodings included.
query_text = st.lists(
    st.one_of(
        st.sampled_from(
            list("ab=&+%;?/ ")
            + [
                "%41",
                "%e9",
                "%C3%A9",
                "%zz",
                "%2",
                "%%",
                "%F0%9F%98%80",
                "%ed%a0%80",
                "\u00e9",
                "%00",
            ]
        ),
        st.text(max_size=3),
    ),
    max_size=20,
).map("".join)


def _reference_unquote(text):
    raw = text.replace("+", " ").encode()
    if re.search(rb"%(?![0-9A-Fa-f]{2})", raw):
        raise ValueError("bad escape")
    return unquote_to_bytes(raw).decode("utf-8")


def _reference_query(query):
    params = {}
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            params.setdefault(_reference_unquote(key), []).append(_reference_unquote(value))
    return params


@FUZZ
@given(st.one_of(query_text, st.binary(max_size=40)))
def test_parse_query_agrees_with_urllib(query):
    got = fails_with(parse_query, (400,), query)
    text = query
    if isinstance(query, bytes):
        try:
            text = query.decode("utf-8")
        except UnicodeDecodeError:
            assert got is None, query  # a form body that is not UTF-8
            return
    try:
        expected = _reference_query(text)
    except (ValueError, UnicodeDecodeError):
        expected = None
    assert got == expected, (query, got, expected)
    if got is not None:
        assert got == parse_qs(text, keep_blank_values=True, errors="strict"), query


@FUZZ
@given(
    st.one_of(
        st.text(min_size=1).filter(no_controls),
        st.lists(
            st.sampled_from(
                [
                    "/",
                    "echo",
                    "?",
                    "%2F",
                    "%zz",
                    "%",
                    "%c3%a9",
                    "http://",
                    "h",
                    "*",
                    ":",
                    "a",
                    "\u00e9",
                    "://",
                    "#",
                ]
            ),
            min_size=1,
            max_size=10,
        ).map("".join),
    )
)
def test_split_target_only_400(target):
    # The server hands it what parse_head returned: non-empty, no control bytes.
    result = fails_with(split_target, (400,), target)
    if result is not None:
        path, query = result
        assert isinstance(path, str) and isinstance(query, str)
        if target.startswith("/"):
            raw_path, _, raw_query = target.partition("?")
            assert query == raw_query
            assert path == _reference_unquote(raw_path.replace("+", "%2B"))


header_values = st.one_of(
    st.text(max_size=25),
    st.sampled_from(
        [
            "5",
            "05",
            "0",
            " 5",
            "+5",
            "-5",
            "5.0",
            "1e3",
            "0x10",
            "\u0665",
            "\uff15",
            "",
            "9" * 16,
            "9" * 15,
            "chunked",
            "Chunked",
            "chunked, chunked",
            "gzip, chunked",
            "chunked,",
            ", chunked",
            "identity",
            "chunked ,gzip",
        ]
    ),
)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["content-length", "transfer-encoding", "host", "expect"]), header_values
    ),
    st.sampled_from(["HTTP/1.0", "HTTP/1.1"]),
)
def test_body_framing_only_fitting_errors(fields, version):
    headers = Headers(fields)
    framing = fails_with(body_framing, (400, 413, 501), headers, version)
    length = fields.get("content-length")
    coding = fields.get("transfer-encoding")
    if framing is None:
        return
    if isinstance(framing, int):
        assert coding is None
        if length is None:
            assert framing == 0
        else:
            assert re.fullmatch(r"[0-9]+", length) and framing == int(length), fields
    else:
        raise AssertionError((fields, framing))


@FUZZ
@given(st.dictionaries(st.sampled_from(["content-length", "transfer-encoding"]), header_values))
def test_chunked_framing_is_returned_as_none(fields):
    headers = Headers(fields)
    try:
        framing = body_framing(headers, "HTTP/1.1")
    except HTTPException as exc:
        assert exc.status_code in (400, 413, 501)
        return
    if fields.get("transfer-encoding") is not None:
        assert framing is None and fields["transfer-encoding"].strip().lower() == "chunked"


# RFC 9112 7.1.1: chunk-size *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ),
# ext-name a token, ext-val a token or a quoted-string that ends on the line;
# at most eight hex digits here.
_TOKEN_RE = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_RE = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_EXT_RE = (
    rb"[ \t]*;[ \t]*"
    + _TOKEN_RE
    + rb"(?:[ \t]*=[ \t]*(?:"
    + _TOKEN_RE
    + rb"|"
    + _QUOTED_RE
    + rb"))?"
)
CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,8})(?:" + _EXT_RE + rb")*")


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=20),
        st.lists(
            st.sampled_from(
                [
                    b"0",
                    b"a",
                    b"F",
                    b"9",
                    b";",
                    b" ",
                    b"\t",
                    b"=",
                    b"\x00",
                    b"\x7f",
                    b"x",
                    b"\xff",
                    b"\"",
                    b"-",
                    b"+",
                    b"\xc3\xa9",
                ]
            ),
            max_size=12,
        ).map(b"".join),
    )
)
@example(b"0;\x7f\xff")  # DEL in an extension, beside a non-ASCII byte
def test_parse_chunk_size_follows_the_grammar(line):
    got = fails_with(parse_chunk_size, (400,), line)
    match = CHUNK_LINE.fullmatch(line)
    assert got == (int(match.group(1), 16) if match else None), (line, got)


@FUZZ
@given(st.binary(max_size=30))
@example(b"X-T: a\x7f\xc3\xa9")
def test_check_trailer_only_400(line):
    try:
        check_trailer(line)
    except HTTPException as exc:
        assert exc.status_code == 400
        return
    name, _, value = line.partition(b":")
    assert name and all(chr(c) in TOKEN for c in name), line
    assert no_controls(value.decode("latin-1")), line


nested = st.integers(min_value=1, max_value=3000).flatmap(
    lambda n: st.sampled_from([b"[" * n, b"[" * n + b"]" * n, b'{"a":' * n, b"[" * n + b"1"])
)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=60),
        nested,
        st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
@example(b"[" * 1000 + b"]" * 1000)  # 2 KB of valid JSON nested deeper than CPython recurses
def test_request_body_parsers_only_400(body):
    # What a handler calls on the body a client sent: text(), json() and form().
    request = Request(None, "POST", "/", "", Headers(), body)
    fails_with(request.text, (400,))
    fails_with(request.json, (400,))
    fails_with(request.form, (400,))


# ============================================================================
# Part 2: the saved corpus against the running server, on both runtimes
# ============================================================================


def take_response(data, head_request=False):
    """(Reply, rest) for the response at the start of data, or (None, data) if its head is
    not all there. Reply.complete is False when the body is cut short."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, data
    if not data.startswith(b"HTTP/1.1 "):
        return Reply(None, "", {}, data, False, data), b""
    head, rest = data[:end], data[end + 4 :]
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.decode("latin-1").lower()
        assert key not in headers, ("repeated response field", head)
        headers[key] = value.strip().decode("latin-1")
    if head_request or status < 200 or status in (204, 304):
        return Reply(status, "", headers, b"", True, head), rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        return Reply(status, "", headers, rest[:length], len(rest) >= length, head), rest[length:]
    return Reply(status, "", headers, rest, False, head), b""


def expected_responses(entry):
    """[(request index, model)] in answer order, up to the one that closes."""
    out = []
    for index, model in enumerate(entry["models"]):
        out.append((index, model))
        if model is None or model["close"]:
            break
    return out


def check_reply(reply, model, context):
    assert reply is not None and reply.complete, context
    assert reply.status == model["status"], context
    if model["close"]:
        assert reply.headers.get("connection") == "close", context
    elif model.get("keep_alive_1_0"):
        assert reply.headers.get("connection") == "keep-alive", context
    else:
        assert "connection" not in reply.headers, context
    # The after_request hook runs for what the app answered, not for rejections.
    assert ("x-after" in reply.headers) == model["dispatched"], context
    if model["status"] == 405:
        assert "GET" in reply.headers.get("allow", ""), context
    if model["head"] or model["status"] == 204:
        assert reply.body == b"", context
        return
    if model["echo"] is not None:
        assert reply.headers.get("content-type") == "application/json", context
        assert json.loads(reply.body) == model["echo"], context
    elif model["status"] >= 400:
        assert reply.headers.get("content-type") == "application/json", context
        assert json.loads(reply.body)["error"], context


def check_valid(entry, data, ended, context):
    """Every answer as the model says, in order, then the connection ends as it says."""
    for index, model in expected_responses(entry):
        if model["interim"]:
            reply, data = take_response(data)
            assert reply is not None and reply.status == 100, context
        reply, data = take_response(data, model["head"])
        check_reply(reply, model, "%s\nrequest %d" % (context, index))
    assert data == b"", "%s\nbytes after the last answer: %r" % (context, data[:200])
    if expected_responses(entry)[-1][1]["close"]:
        assert ended in ("eof", "reset"), context


def check_mutated(entry, data, ended, context):
    """Mutated M: A gets its echo; any answer carrying B's marker is exactly B's echo;
    nothing after a Connection: close; no 500; every answer complete."""
    models = entry["models"]
    reply, data = take_response(data)
    check_reply(reply, models[0], context + "\nrequest A")
    replies = []
    # Whatever else M is, if it begins as a HEAD its answer has no body.
    head = to_bytes(entry["requests"][1]).startswith(b"HEAD ")
    while data:
        reply, data = take_response(data, head and not replies)
        assert reply is not None and reply.complete and reply.status is not None, (
            "%s\nmalformed or cut answer: %r" % (context, reply)
        )
        replies.append(reply)
        if reply.headers.get("connection") == "close":
            assert data == b"", "%s\nbytes after Connection: close: %r" % (context, data[:200])
    marker = models[2]["echo"]["headers"]["x-seq"]
    for reply in replies:
        assert reply.status != 500, context
        if reply.status >= 400 and reply.body:
            assert json.loads(reply.body)["error"], context
        if reply.status == 200 and reply.body.startswith(b"{"):
            echo = json.loads(reply.body)
            if echo.get("headers", {}).get("x-seq") == marker:
                assert reply is replies[-1], context
                assert echo == models[2]["echo"], "%s\nB's echo differs: %r" % (context, echo)
    assert ended in ("eof", "reset"), context


def _connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT * 3)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_answers(sock, data, models, deadline):
    """Read on a kept-alive connection until the answers to models are all there."""
    while time.monotonic() < deadline:
        rest = data
        complete = True
        for model in models:
            if model["interim"]:
                reply, rest = take_response(rest)
                if reply is None:
                    complete = False
                    break
            reply, rest = take_response(rest, model["head"])
            if reply is None or not reply.complete:
                complete = False
                break
        if complete:
            return data
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk
    return data


def replay(port, entry):
    """Send an entry's three requests on one connection; (bytes received, how it ended)."""
    requests = [to_bytes(r) for r in entry["requests"]]
    deadline = time.monotonic() + READ_TIMEOUT * 0.9
    with _connect(port) as sock:
        if entry["mode"] == "sequential":
            data = b""
            for index, _ in expected_responses(entry):
                sock.sendall(requests[index])
                data = _read_answers(
                    sock, data, [m for _, m in expected_responses(entry)][: index + 1], deadline
                )
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            more, ended = read_all(sock, deadline)
            return data + more, ended
        payload = b"".join(requests)
        try:
            if entry["mode"] == "segmented":
                at = 0
                for size in entry["segments"]:
                    sock.sendall(payload[at : at + size])
                    at += size
                    time.sleep(0.0005)
            else:
                sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # closed by the server half way: read what it said
        return read_all(sock, deadline)


def load_corpus():
    return json.loads(CORPUS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    running = start_hardening(request.param, tmp_path_factory.mktemp("fuzz"))
    yield running
    running.stop()


def _ok(port):
    with _connect(port) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        data, _ = read_all(sock, time.monotonic() + 2)
    reply, _ = take_response(data)
    return reply is not None and (reply.status, reply.body) == (200, b"ok")


def test_saved_corpus_replayed(server):
    corpus = load_corpus()
    assert corpus["limits"] == {
        "max_body_size": MAX_BODY,
        "max_request_line": MAX_LINE,
        "max_head_size": MAX_HEAD,
        "max_headers": MAX_HEADERS,
    }
    failures = []
    mark = len(server.output())
    started = time.monotonic()
    for entry in corpus["entries"]:
        data, ended = replay(server.port, entry)
        context = "%s (%s, %s) on %s\nsent %r\ngot %r ended=%s" % (
            entry["id"],
            entry["kind"],
            entry["mode"],
            server.runtime,
            b"".join(to_bytes(r) for r in entry["requests"])[:1500],
            data[:1500],
            ended,
        )
        try:
            if entry["kind"] == "valid":
                check_valid(entry, data, ended, context)
            else:
                check_mutated(entry, data, ended, context)
            assert _ok(server.port), context + "\nthe next connection was not served"
            log = server.output()
            escaped = [m for m in ESCAPE_MARKERS if m in log[mark:]]
            mark = len(log)
            assert not escaped, context + "\nserver log:\n" + log[-3000:]
        except AssertionError as exc:
            failures.append(str(exc))
            if len(failures) >= 5:
                break
    time.sleep(0.1)
    tail = server.output()[mark:]
    assert not any(m in tail for m in ESCAPE_MARKERS), tail
    assert not failures, "%d entries failed; the first ones:\n\n%s" % (
        len(failures),
        "\n\n".join(failures),
    )
    assert server.alive() and _ok(server.port)
    print(
        "%d entries in %.1f s on %s"
        % (len(corpus["entries"]), time.monotonic() - started, server.runtime)
    )


def test_corpus_is_what_the_generator_writes():
    # The saved corpus is the generator's output for SEED: an edit to one
    # without the other shows here. (random.Random with an int seed gives the
    # same numbers on every CPython 3 version.)
    assert load_corpus() == json.loads(json.dumps(build_corpus()))


def test_corpus_covers_the_cases():
    entries = load_corpus()["entries"]
    models = [e["models"][1] for e in entries if e["kind"] == "valid"]
    statuses = {m["status"] for m in models}
    assert {200, 204, 400, 404, 405, 413, 414, 431} <= statuses, statuses
    assert any(m["interim"] for m in models)
    assert any(m["version"] == "HTTP/1.0" for m in models)
    assert any(m["head"] for m in models)
    assert {"pipelined", "sequential", "segmented"} <= {e["mode"] for e in entries}
    assert sum(e["kind"] == "mutated" for e in entries) >= 100


# Limits must not depend on how the bytes arrive ------------------------------------------


def _boundary_requests():
    base = b"GET /echo HTTP/1.1\r\nHost: h\r\nX-P: "
    head = base + b"v" * (MAX_HEAD - len(base))
    prefix = b"GET /echo/"
    suffix = b" HTTP/1.1"
    line = prefix + b"a" * (MAX_LINE - len(prefix) - len(suffix)) + suffix
    return {
        "head-at-max_head_size": head + b"\r\n\r\n",
        "request-line-at-max_request_line": line + b"\r\nHost: h\r\n\r\n",
    }


BOUNDARY = _boundary_requests()


@pytest.mark.parametrize("name", sorted(BOUNDARY))
def test_limit_at_its_value_whatever_the_segmentation(server, name):
    """A head exactly at a limit is served, whether it comes in one segment or the
    final CRLF arrives in two pieces (as a slow or unlucky network delivers it)."""
    data = BOUNDARY[name] + b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    cut = len(BOUNDARY[name]) - (1 if name.startswith("head") else len(b"\nHost: h\r\n\r\n"))
    statuses = {}
    for label, pieces in (("whole", [data]), ("split", [data[:cut], data[cut:]])):
        with _connect(server.port) as sock:
            try:
                for piece in pieces:
                    sock.sendall(piece)
                    time.sleep(0.05)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # answered and closed before the last piece
            received, _ = read_all(sock, time.monotonic() + 2)
        replies = []
        while received:
            reply, received = take_response(received)
            if reply is None:
                break
            replies.append(reply.status)
        statuses[label] = replies
    assert statuses == {"whole": [200, 200], "split": [200, 200]}, (
        "%s on %s: %r (the split sends %r then %r)"
        % (name, server.runtime, statuses, data[:cut][-20:], data[cut:][:20])
    )


if __name__ == "__main__":
    if "--write" in sys.argv:
        corpus = build_corpus()
        CORPUS_FILE.write_text(
            json.dumps(corpus, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
        )
        print("wrote %d entries to %s" % (len(corpus["entries"]), CORPUS_FILE))
    else:
        print(__doc__)
