"""Issue 7, point 1: a corpus of malformed and hostile requests, on both runtimes.

Each request in host_tests/corpus/hostile_requests.py goes to the running
server on a new connection. The server must give the status written there
(never a 500), close the connection after a request it could not read (so a
request smuggled behind it never reaches the app), log no escaped exception,
and serve the next request on a new connection.
"""

import sys

import pytest
from conftest import RUNTIMES
from test_hardening_common import CORPUS, OutputWatch, counts, exchange, start_hardening

sys.path.insert(0, str(CORPUS))
import hostile_requests  # noqa: E402

SMUGGLE = hostile_requests.SMUGGLE
CASES = hostile_requests.CASES


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    running = start_hardening(request.param, tmp_path_factory.mktemp("corpus"))
    yield running
    running.stop()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_hostile_request(server, case):
    before = counts(server)["smuggled"]
    watch = OutputWatch(server)
    data = case["data"] + (SMUGGLE if case["smuggle"] else b"")
    result = exchange(server.port, data, half_close=case["half_close"])
    expect = case["expect"]
    context = "%s on %s: sent %r\ngot %r" % (case["id"], server.runtime, data[:400], result)

    if expect is None:
        assert result.data == b"", context
        assert result.ended in ("eof", "reset"), context
    elif isinstance(expect, list):
        assert result.statuses == expect, context
    else:
        assert result.status == expect, context
        assert len(result.responses) == 1, context
        reply = result.responses[0]
        assert reply.complete, context
        if case["smuggle"]:
            # Rejected while reading: the rest of the connection is not trusted.
            assert reply.headers.get("connection") == "close", context
            assert result.ended in ("eof", "reset"), context
            if expect != 408:
                assert result.elapsed < 0.9, context  # answered, not timed out
        if expect >= 400:
            assert reply.headers.get("content-type") == "application/json", context
            assert reply.json()["error"], context
    for status in result.statuses:
        assert status != 500, context

    watch.assert_quiet(context)
    # The next request on a new connection is served, and nothing smuggled
    # behind a rejected request reached the app.
    assert counts(server)["smuggled"] == before, context
    assert server.alive(), context


def test_corpus_covers_the_issue():
    families = {c["family"] for c in CASES}
    assert {
        "request-line",
        "target",
        "host",
        "header",
        "content-length",
        "smuggling",
        "transfer-encoding",
        "chunked",
        "size",
        "not-http",
        "expect",
    } <= families
    assert len({c["id"] for c in CASES}) == len(CASES)
