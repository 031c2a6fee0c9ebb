"""Issue 17, part A: static files behave as a browser-facing server should.

app.static() and FileResponse carry ETag, Last-Modified (when the file time
is known) and Accept-Ranges; If-None-Match and If-Modified-Since are answered
304 without a body, Cache-Control follows max_age, Vary marks the gzip
negotiation, a single byte range gives 206 (416 when it cannot be met) and a
folder without its trailing slash is redirected. Both runtimes, real sockets.
"""

import gzip
import os

import pytest
from conftest import RUNTIMES, start_server

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "static_caching_app.py")
DATA = bytes(range(48, 88))  # 40 distinct bytes, so a wrong range shows
STYLE = b"body { color: red }\n" * 10
# 2025-03-01 12:00:00 UTC: a file time a board with a clock would give.
MTIME = 1740830400
LAST_MODIFIED = "Sat, 01 Mar 2025 12:00:00 GMT"
# 2001: what a board without a clock stamps (its epoch plus a little).
NO_CLOCK_MTIME = 978307200 + 60


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("static_caching")
    (folder / "sub").mkdir()
    (folder / "two words").mkdir()
    (folder / "data.txt").write_bytes(DATA)
    (folder / "style.css").write_bytes(STYLE)
    (folder / "style.css.gz").write_bytes(gzip.compress(STYLE))
    (folder / "clockless.txt").write_bytes(b"written before the clock was set")
    (folder / "sub" / "index.html").write_bytes(b'<a href="page.html">page</a>')
    for path in folder.rglob("*"):
        os.utime(path, (MTIME, MTIME))
    os.utime(folder / "clockless.txt", (NO_CLOCK_MTIME, NO_CLOCK_MTIME))
    running = start_server(request.param, APP, folder, args=[folder])
    yield running
    running.stop()


def get(server, path, method="GET", **headers):
    return server.request(method, path, {k.replace("_", "-"): v for k, v in headers.items()})


# Validators and 304 -------------------------------------------------------------


def test_file_carries_etag_last_modified_and_accept_ranges(server):
    status, headers, body = get(server, "/static/data.txt")
    assert status == 200 and body == DATA
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert headers["last-modified"] == LAST_MODIFIED
    assert headers["accept-ranges"] == "bytes"
    assert "vary" not in headers  # no gzip variant: nothing was negotiated


def test_matching_etag_gives_304_without_body_keeping_cache_fields(server):
    etag = get(server, "/static/data.txt")[1]["etag"]
    status, headers, body = get(server, "/static/data.txt", If_None_Match=etag)
    assert (status, body) == (304, b"")
    assert headers["etag"] == etag
    assert headers["cache-control"] == "no-cache"
    assert "content-length" not in headers
    # On the wire too: the head, and not one byte after it.
    raw = server.raw(
        b"GET /static/data.txt HTTP/1.1\r\nHost: h\r\nIf-None-Match: %s\r\n"
        b"Connection: close\r\n\r\n" % etag.encode()
    )
    assert raw.startswith(b"HTTP/1.1 304 ") and raw.endswith(b"\r\n\r\n")


def test_if_none_match_compares_weakly_and_takes_lists_and_star(server):
    etag = get(server, "/static/data.txt")[1]["etag"]
    assert get(server, "/static/data.txt", If_None_Match='"other", W/' + etag)[0] == 304
    assert get(server, "/static/data.txt", If_None_Match="*")[0] == 304
    status, _, body = get(server, "/static/data.txt", If_None_Match='"other"')
    assert (status, body) == (200, DATA)


def test_if_modified_since_gives_304_when_not_newer(server):
    path = "/static/data.txt"
    assert get(server, path, If_Modified_Since=LAST_MODIFIED)[0] == 304
    assert get(server, path, If_Modified_Since="Sun, 02 Mar 2025 00:00:00 GMT")[0] == 304
    status, _, body = get(server, path, If_Modified_Since="Sat, 01 Mar 2025 11:59:59 GMT")
    assert (status, body) == (200, DATA)
    assert get(server, path, If_Modified_Since="not a date")[0] == 200


def test_if_modified_since_is_read_in_the_obsolete_date_formats_too(server):
    # RFC 9110 5.6.7: a recipient accepts rfc850 and asctime dates as well.
    path = "/static/data.txt"
    assert get(server, path, If_Modified_Since="Sunday, 02-Mar-25 00:00:00 GMT")[0] == 304
    assert get(server, path, If_Modified_Since="Sun Mar  2 00:00:00 2025")[0] == 304
    assert get(server, path, If_Modified_Since="Friday, 28-Feb-25 00:00:00 GMT")[0] == 200
    assert get(server, path, If_Modified_Since="Fri Feb 28 00:00:00 2025")[0] == 200


def test_if_modified_since_is_ignored_when_if_none_match_is_sent(server):
    status = get(
        server, "/static/data.txt", If_None_Match='"other"', If_Modified_Since=LAST_MODIFIED
    )[0]
    assert status == 200


def test_head_has_validators_and_gets_304(server):
    status, headers, body = get(server, "/static/data.txt", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(DATA))
    assert headers["last-modified"] == LAST_MODIFIED
    status, headers, body = get(server, "/static/data.txt", "HEAD", If_None_Match=headers["etag"])
    assert (status, body) == (304, b"")
    assert "etag" in headers


def test_gzip_variant_has_its_own_etag_and_304(server):
    _, plain, _ = get(server, "/static/style.css")
    status, zipped, body = get(server, "/static/style.css", Accept_Encoding="gzip")
    assert status == 200 and gzip.decompress(body) == STYLE
    assert zipped["content-encoding"] == "gzip"
    assert zipped["etag"] != plain["etag"] and zipped["etag"].endswith('-gz"')
    status, headers, body = get(
        server, "/static/style.css", Accept_Encoding="gzip", If_None_Match=zipped["etag"]
    )
    assert (status, body) == (304, b"")
    assert headers["vary"] == "Accept-Encoding"
    assert headers["etag"] == zipped["etag"]
    # The plain file's tag does not validate the compressed one, and back.
    assert get(server, "/static/style.css", If_None_Match=zipped["etag"])[0] == 200


@pytest.mark.parametrize(
    "accept, compressed",
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("deflate, x-gzip", True),
        ("identity, *", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000, br", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("br, deflate", False),
        ("gzip;q=high", False),
    ],
)
def test_gzip_is_sent_only_when_accept_encoding_takes_it(server, accept, compressed):
    status, headers, body = get(server, "/static/style.css", Accept_Encoding=accept)
    assert status == 200
    assert (headers.get("content-encoding") == "gzip") is compressed
    assert (gzip.decompress(body) if compressed else body) == STYLE


def test_gzip_variant_answers_if_modified_since(server):
    status = get(
        server, "/static/style.css", Accept_Encoding="gzip", If_Modified_Since=LAST_MODIFIED
    )[0]
    assert status == 304


def test_vary_on_both_answers_when_a_gzip_variant_exists(server):
    assert get(server, "/static/style.css")[1]["vary"] == "Accept-Encoding"
    assert get(server, "/static/style.css", Accept_Encoding="gzip")[1]["vary"] == "Accept-Encoding"


def test_file_without_clock_gets_content_etag_and_no_last_modified(server):
    status, headers, _ = get(server, "/static/clockless.txt")
    assert status == 200 and "last-modified" not in headers
    assert get(server, "/static/clockless.txt", If_None_Match=headers["etag"])[0] == 304
    # No date to compare with: If-Modified-Since cannot give a 304.
    assert get(server, "/static/clockless.txt", If_Modified_Since=LAST_MODIFIED)[0] == 200


# Cache-Control ------------------------------------------------------------------


def test_cache_control_is_no_cache_by_default_and_max_age_when_given(server):
    assert get(server, "/static/data.txt")[1]["cache-control"] == "no-cache"
    assert get(server, "/cached/data.txt")[1]["cache-control"] == "max-age=3600"


# Ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, first, last",
    [("bytes=0-9", 0, 9), ("bytes=-5", 35, 39), ("bytes=10-", 10, 39), ("bytes=30-99", 30, 39)],
)
def test_single_range_gives_206_with_those_bytes(server, field, first, last):
    status, headers, body = get(server, "/static/data.txt", Range=field)
    assert status == 206
    assert body == DATA[first : last + 1]
    assert headers["content-range"] == "bytes %d-%d/%d" % (first, last, len(DATA))
    assert headers["content-length"] == str(last - first + 1)


def test_range_beyond_the_end_gives_416(server):
    status, headers, body = get(server, "/static/data.txt", Range="bytes=40-")
    assert (status, body) == (416, b"")
    assert headers["content-range"] == "bytes */40"


def test_multiple_or_malformed_ranges_give_the_whole_file(server):
    for field in ("bytes=0-1,5-6", "bytes=9-2", "bytes=x-", "items=0-1", "bytes=-"):
        status, headers, body = get(server, "/static/data.txt", Range=field)
        assert (status, body) == (200, DATA), field
        assert "content-range" not in headers


def test_if_range_matching_gives_206_and_mismatch_the_whole_file(server):
    etag = get(server, "/static/data.txt")[1]["etag"]
    path = "/static/data.txt"
    assert get(server, path, Range="bytes=0-9", If_Range=etag)[0] == 206
    assert get(server, path, Range="bytes=0-9", If_Range=LAST_MODIFIED)[0] == 206
    assert get(server, path, Range="bytes=0-9", If_Range='"stale"')[:3:2] == (200, DATA)
    assert get(server, path, Range="bytes=0-9", If_Range="W/" + etag)[0] == 200  # strong only
    stale_date = "Fri, 28 Feb 2025 12:00:00 GMT"
    assert get(server, path, Range="bytes=0-9", If_Range=stale_date)[0] == 200


def test_range_with_gzip_accepted_is_served_from_the_plain_file(server):
    status, headers, body = get(
        server, "/static/style.css", Accept_Encoding="gzip", Range="bytes=0-3"
    )
    assert (status, body) == (206, STYLE[:4])
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"


def test_head_ignores_range(server):
    status, headers, _ = get(server, "/static/data.txt", "HEAD", Range="bytes=0-9")
    assert status == 200 and "content-range" not in headers


# Folders ------------------------------------------------------------------------


def test_folder_without_slash_redirects_keeping_the_query(server):
    status, headers, _ = get(server, "/static/sub?x=1&y=2")
    assert status == 301
    assert headers["location"] == "/static/sub/?x=1&y=2"
    status, _, body = get(server, "/static/sub/")
    assert (status, body) == (200, b'<a href="page.html">page</a>')
    assert get(server, "/static")[1]["location"] == "/static/"


def test_folder_redirect_quotes_the_path_again(server):
    status, headers, _ = get(server, "/static/two%20words")
    assert (status, headers["location"]) == (301, "/static/two%20words/")


# FileResponse from a handler ------------------------------------------------------


def test_file_response_from_a_handler_has_validators(server):
    status, headers, body = get(server, "/handler/file")
    assert (status, body) == (200, DATA)
    assert headers["last-modified"] == LAST_MODIFIED
    assert headers["accept-ranges"] == "bytes" and "etag" in headers


def test_conditional_answers_for_a_handler_file_response(server):
    etag = get(server, "/handler/conditional")[1]["etag"]
    assert get(server, "/handler/conditional", If_None_Match=etag)[0] == 304
    status, _, body = get(server, "/handler/conditional", Range="bytes=-5")
    assert (status, body) == (206, DATA[-5:])
