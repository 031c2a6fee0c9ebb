# Malformed and hostile requests, each with the status the server must give.
#
# Written from RFC 9112 (HTTP/1.1 message syntax), RFC 9110 (semantics) and
# the request smuggling families (CL.TE, TE.CL, TE.TE, CL.CL, chunk-size and
# extension tricks, obs-fold, whitespace before the colon, bare CR/LF).
# Replayed over real sockets by host_tests/test_hardening_corpus.py against
# host_tests/apps/hardening_app.py, whose limits are:
#   max_body_size=4096, max_request_line=512, max_head_size=2048,
#   max_headers=24, read_timeout=1.0.
#
# expect: the status of the first response, or a list of statuses when the
# bytes hold several requests, or None when the server must close without
# answering (an incomplete request at end of input).
# After every rejected request a smuggled "GET /smuggled" follows on the same
# connection: it must never reach the app.
# half_close=False leaves our side open, for cases the server has to time out.

H = b"Host: h\r\n"
SMUGGLE = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"


def post(headers, body=b"", path=b"/echo", version=b"HTTP/1.1"):
    return b"POST " + path + b" " + version + b"\r\n" + H + headers + b"\r\n" + body


def get(headers=b"", target=b"/echo", version=b"HTTP/1.1", method=b"GET"):
    return method + b" " + target + b" " + version + b"\r\n" + H + headers + b"\r\n"


CASES = []


def case(name, data, expect, family, half_close=True, smuggle=None):
    if smuggle is None:
        # After a request the server rejects while reading it, nothing more on
        # the connection may be read. (After a 404 or 405 from the router the
        # connection is fine, and what follows is plain pipelining.)
        smuggle = isinstance(expect, int) and expect >= 400 and expect not in (404, 405)
    CASES.append(
        {
            "id": name,
            "data": data,
            "expect": expect,
            "family": family,
            "half_close": half_close,
            "smuggle": smuggle,
        }
    )


# Controls: valid requests the server must serve ------------------------------------
case("valid-get", get(), 200, "control")
case("valid-post-length", post(b"Content-Length: 5\r\n", b"hello"), 200, "control")
case(
    "valid-post-chunked",
    post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
    200,
    "control",
)
case(
    "valid-chunked-ext-and-trailer",
    post(
        b"Transfer-Encoding: chunked\r\n",
        b"5;name=value;q=\"x y\"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
    ),
    200,
    "control",
)
case(
    "valid-transfer-coding-case",
    post(b"Transfer-Encoding: Chunked\r\n", b"0\r\n\r\n"),
    200,
    "control",
)
case(
    "valid-same-content-length-twice",
    post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
    200,
    "control",
)
case("valid-leading-empty-lines", b"\r\n\r\n" + get(), 200, "control")
case("valid-http10-no-host", b"GET /echo HTTP/1.0\r\n\r\n", 200, "control")
case("valid-tab-in-value", get(b"X-A: a\tb\r\n"), 200, "control")
case("valid-utf8-in-value", get(b"X-A: caf\xc3\xa9\r\n"), 200, "control")
case("valid-absolute-form", get(target=b"http://h/echo?x=1"), 200, "control")
case("valid-leading-zeros-length", post(b"Content-Length: 005\r\n", b"hello"), 200, "control")
case("valid-pipelined-pair", get() + get(), [200, 200], "control")

# Request line ---------------------------------------------------------------------------
case("line-one-part", b"GET\r\n" + H + b"\r\n", 400, "request-line")
case("line-two-parts", b"GET /echo\r\n" + H + b"\r\n", 400, "request-line")
case("line-four-parts", b"GET /echo HTTP/1.1 x\r\n" + H + b"\r\n", 400, "request-line")
case("line-double-space", b"GET  /echo HTTP/1.1\r\n" + H + b"\r\n", 400, "request-line")
case("line-tabs", b"GET\t/echo\tHTTP/1.1\r\n" + H + b"\r\n", 400, "request-line")
case("line-leading-space", b" GET /echo HTTP/1.1\r\n" + H + b"\r\n", 400, "request-line")
case("line-trailing-space", b"GET /echo HTTP/1.1 \r\n" + H + b"\r\n", 400, "request-line")
case("line-empty-method", b" /echo HTTP/1.1\r\n" + H + b"\r\n", 400, "request-line")
case("method-separator", get(method=b"GE(T"), 400, "request-line")
case("method-nul", get(method=b"GE\x00T"), 400, "request-line")
case("method-utf8", get(method=b"G\xc3\x89T"), 400, "request-line")
case("method-lowercase", get(method=b"get"), 405, "request-line")
case("method-unknown-token", get(method=b"BREW"), 405, "request-line")
case("version-lowercase", get(version=b"http/1.1"), 400, "request-line")
case("version-missing-minor", get(version=b"HTTP/1"), 400, "request-line")
case("version-two-digits", get(version=b"HTTP/1.10"), 400, "request-line")
case("version-junk", get(version=b"HTTX/1.1"), 400, "request-line")
case("version-2", get(version=b"HTTP/2.0"), 505, "request-line")
case("version-0.9", get(version=b"HTTP/0.9"), 505, "request-line")
case("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "not-http")
case("target-nul", get(target=b"/echo\x00x"), 400, "target")
case("target-del", get(target=b"/echo\x7f"), 400, "target")
case("target-control", get(target=b"/echo\x1b"), 400, "target")
case("target-tab", get(target=b"/echo\tx"), 400, "target")
case("target-fragment", get(target=b"/echo#frag"), 400, "target")
case("target-not-origin-form", get(target=b"echo"), 400, "target")
case("target-bad-percent", get(target=b"/echo/%zz"), 400, "target")
case("target-truncated-percent", get(target=b"/echo/%4"), 400, "target")
case("target-trailing-percent", get(target=b"/echo/%"), 400, "target")
case("target-encoded-invalid-utf8", get(target=b"/echo/%ff%fe"), 400, "target")
case("target-overlong-utf8", get(target=b"/echo/%c0%ae%c0%ae"), 400, "target")
case("target-encoded-surrogate", get(target=b"/echo/%ed%a0%80"), 400, "target")
case("target-raw-invalid-utf8", get(target=b"/echo/\xff\xfe"), 400, "target")
case("target-raw-latin1", get(target=b"/echo/caf\xe9"), 400, "target")
case("query-raw-invalid-utf8", get(target=b"/echo?a=\xff"), 400, "target")
# The query is parsed when the handler reads query_params: a 400 from the app,
# after which the connection goes on.
case("query-bad-percent", get(target=b"/echo?a=%zz"), 400, "target", smuggle=False)
case("query-invalid-utf8", get(target=b"/echo?a=%ff"), 400, "target", smuggle=False)
case("request-line-too-long", get(target=b"/echo/" + b"a" * 600), 414, "size")
case("request-line-too-long-no-crlf", b"GET /" + b"a" * 700, 414, "size")

# Header fields ----------------------------------------------------------------------------
case("host-missing", b"GET /echo HTTP/1.1\r\n\r\n", 400, "host")
case("host-twice", get(b"Host: other\r\n"), 400, "host")
case("host-with-space", b"GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "host")
case("space-before-colon", get(b"X-A : v\r\n"), 400, "header")
case("tab-before-colon", get(b"X-A\t: v\r\n"), 400, "header")
case("space-before-colon-content-length", post(b"Content-Length : 5\r\n", b"hello"), 400, "header")
case("no-colon", get(b"NoColonHere\r\n"), 400, "header")
case("empty-name", get(b": v\r\n"), 400, "header")
case("name-with-space", get(b"Bad Name: v\r\n"), 400, "header")
case("name-nul", get(b"X-\x00A: v\r\n"), 400, "header")
case("name-utf8", get(b"X-\xc3\xa9: v\r\n"), 400, "header")
case("name-vertical-tab", get(b"Transfer-Encoding\x0b: chunked\r\n"), 400, "header")
case("value-nul", get(b"X-A: a\x00b\r\n"), 400, "header")
case("value-bare-cr", get(b"X-A: a\rb\r\n"), 400, "header")
case("value-bare-lf", get(b"X-A: a\nTransfer-Encoding: chunked\r\n"), 400, "header")
case("value-escape", get(b"X-A: \x1b[31mred\r\n"), 400, "header")
case("value-del", get(b"X-A: a\x7f\r\n"), 400, "header")
case(
    "value-vertical-tab-before-chunked",
    post(b"Transfer-Encoding: \x0bchunked\r\n", b"0\r\n\r\n"),
    400,
    "header",
)
case("value-form-feed", get(b"X-A: a\x0cb\r\n"), 400, "header")
case("value-invalid-utf8", get(b"X-A: caf\xe9\r\n"), 400, "header")
case("value-lone-continuation-byte", get(b"X-A: \x80\r\n"), 400, "header")
case("obs-fold", get(b"X-A: a\r\n folded\r\n"), 400, "header")
case("obs-fold-tab", get(b"X-A: a\r\n\tfolded\r\n"), 400, "header")
case("whitespace-line-after-request-line", b"GET /echo HTTP/1.1\r\n Host: h\r\n\r\n", 400, "header")
case(
    "bare-lf-line-endings",
    b"GET /echo HTTP/1.1\nHost: h\n\n",
    # A bare LF is a control byte in a request line: refused at once, not at
    # read_timeout (RFC 9112 2.2 leaves bare LF to the recipient).
    400,
    "header",
    half_close=False,
    smuggle=False,
)
case("too-many-headers", get(b"".join(b"X-%d: v\r\n" % i for i in range(30))), 431, "size")
case("header-line-too-long", get(b"X-A: " + b"v" * 2100 + b"\r\n"), 431, "size")
case("head-too-long-no-end", get(b"X-A: v\r\n" * 300)[:-2], 431, "size")

# Content-Length -------------------------------------------------------------------------------
case("length-plus", post(b"Content-Length: +5\r\n", b"hello"), 400, "content-length")
case("length-minus", post(b"Content-Length: -5\r\n", b"hello"), 400, "content-length")
case("length-hex", post(b"Content-Length: 0x5\r\n", b"hello"), 400, "content-length")
case("length-underscore", post(b"Content-Length: 1_0\r\n", b"helloworld"), 400, "content-length")
case("length-inner-space", post(b"Content-Length: 1 0\r\n", b"helloworld"), 400, "content-length")
case("length-decimal-point", post(b"Content-Length: 5.0\r\n", b"hello"), 400, "content-length")
case("length-exponent", post(b"Content-Length: 5e0\r\n", b"hello"), 400, "content-length")
case("length-empty", post(b"Content-Length: \r\n", b"hello"), 400, "content-length")
case("length-list", post(b"Content-Length: 5, 5\r\n", b"hello"), 400, "content-length")
case(
    "length-arabic-indic-digit",
    post(b"Content-Length: \xd9\xa5\r\n", b"hello"),
    400,
    "content-length",
)
case(
    "length-fullwidth-digit",
    post(b"Content-Length: \xef\xbc\x95\r\n", b"hello"),
    400,
    "content-length",
)
case(
    "length-superscript-digit", post(b"Content-Length: \xc2\xb2\r\n", b"hi"), 400, "content-length"
)
case(
    "length-twice-different",
    post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
    400,
    "content-length",
)
case(
    "length-twice-zero-then-five",
    post(b"Content-Length: 0\r\nContent-Length: 5\r\n", b"hello"),
    400,
    "content-length",
)
case("length-too-big", post(b"Content-Length: 4097\r\n"), 413, "size")
case("length-huge", post(b"Content-Length: 99999999999999\r\n"), 413, "size")
case("length-huger-than-64-bit", post(b"Content-Length: 99999999999999999999999\r\n"), 413, "size")
case(
    "length-body-short",
    post(b"Content-Length: 10\r\n", b"hello"),
    None,
    "content-length",
    smuggle=False,
)

# Transfer-Encoding and smuggling -----------------------------------------------------------------
case(
    "cl-te",
    post(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\nX"),
    400,
    "smuggling",
)
case(
    "te-cl",
    post(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n"),
    400,
    "smuggling",
)
case(
    "te-identity-and-cl",
    post(b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n", b"hello"),
    400,
    "smuggling",
)
case(
    "te-empty-and-cl",
    post(b"Transfer-Encoding: \r\nContent-Length: 5\r\n", b"hello"),
    400,
    "smuggling",
)
case(
    "te-http10",
    post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", version=b"HTTP/1.0"),
    400,
    "smuggling",
)
case(
    "te-chunked-twice-one-field",
    post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"),
    400,
    "smuggling",
)
case(
    "te-chunked-twice-two-fields",
    post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    400,
    "smuggling",
)
case("te-gzip", post(b"Transfer-Encoding: gzip\r\n", b"x"), 501, "transfer-encoding")
case("te-identity", post(b"Transfer-Encoding: identity\r\n", b"x"), 501, "transfer-encoding")
case(
    "te-chunked-then-identity",
    post(b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n"),
    501,
    "transfer-encoding",
)
case(
    "te-gzip-chunked",
    post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"),
    501,
    "transfer-encoding",
)
case(
    "te-chunked-then-unknown-field",
    post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", b"0\r\n\r\n"),
    501,
    "transfer-encoding",
)
case(
    "te-xchunked", post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), 501, "transfer-encoding"
)
case(
    "te-quoted", post(b"Transfer-Encoding: \"chunked\"\r\n", b"0\r\n\r\n"), 501, "transfer-encoding"
)
case("te-empty", post(b"Transfer-Encoding: \r\n", b"0\r\n\r\n"), 501, "transfer-encoding")
case(
    "te-leading-comma",
    post(b"Transfer-Encoding: ,chunked\r\n", b"0\r\n\r\n"),
    501,
    "transfer-encoding",
)
case(
    "te-space-before-colon",
    post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"),
    400,
    "smuggling",
)
case(
    "te-obs-fold",
    post(b"X-A: a\r\n Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    400,
    "smuggling",
)
case(
    "te-underscore-name-is-another-field",
    post(b"Transfer_Encoding: chunked\r\n", b"0\r\n\r\n"),
    [200, 400],
    "smuggling",
    smuggle=False,
)


# Chunked bodies ------------------------------------------------------------------------------------
def chunked(body):
    return post(b"Transfer-Encoding: chunked\r\n", body)


case("chunk-size-not-hex", chunked(b"zz\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-0x", chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-negative", chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-plus", chunked(b"+5\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-leading-space", chunked(b" 5\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-trailing-space", chunked(b"5 \r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-underscore", chunked(b"5_0\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-empty", chunked(b"\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case(
    "chunk-size-overflow-64-bit",
    chunked(b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
    400,
    "chunked",
)
case("chunk-size-bare-lf", chunked(b"5\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-size-too-big", chunked(b"2000\r\n" + b"x" * 100), 413, "size")
case(
    "chunks-add-up-too-big",
    chunked((b"800\r\n" + b"x" * 2048 + b"\r\n") * 2 + b"800\r\n" + b"x" * 10),
    413,
    "size",
)
case("chunk-ext-control", chunked(b"5;a=\x00\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-ext-bare-cr", chunked(b"5;a\rb\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-ext-too-long", chunked(b"5;" + b"e" * 400 + b"\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-data-longer-than-size", chunked(b"3\r\nhello\r\n0\r\n\r\n"), 400, "chunked")
case("chunk-data-no-crlf", chunked(b"5\r\nhelloXX0\r\n\r\n"), 400, "chunked")
case("chunk-data-bare-lf", chunked(b"5\r\nhello\n0\r\n\r\n"), 400, "chunked")
case("chunked-no-last-chunk", chunked(b"5\r\nhello\r\n"), None, "chunked", smuggle=False)
case("trailer-too-long", chunked(b"0\r\nX-T: " + b"v" * 2100 + b"\r\n\r\n"), 431, "size")
case("trailer-not-a-field", chunked(b"0\r\nnot a field\r\n\r\n"), 400, "chunked")

# Expect -------------------------------------------------------------------------------------------------
case("expect-unknown", post(b"Content-Length: 5\r\nExpect: 200-ok\r\n", b"hello"), 417, "expect")

# Not HTTP at all --------------------------------------------------------------------------------------
case(
    "tls-client-hello",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n",
    400,
    "not-http",
)
case("ssh-banner", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", 400, "not-http")
case("nul-bytes", b"\x00" * 64 + b"\r\n\r\n", 400, "not-http")
# Bytes that cannot start a request line are answered at once, whatever follows.
case("binary-no-crlf-long", bytes(range(256)) * 3, 400, "not-http")
case("binary-no-crlf-short", b"\x16\x03\x01\x00\xa5\x01\x00", 400, "not-http", smuggle=False)
case("only-crlf", b"\r\n" * 40, None, "not-http", smuggle=False)
case("smtp", b"HELO example.com\r\n\r\n", 400, "not-http")
case("json", b"{\"jsonrpc\": \"2.0\"}\r\n\r\n", 400, "not-http")
