"""Issue 7, point 5: static files never leave their directory, on both runtimes.

A corpus of path traversal attempts (encoded, doubled, backslashes, NUL,
absolute paths, a sibling directory sharing the name prefix, symlinks) against
app.static("/static", <folder>/public). Nothing outside public/ may ever be
sent, no attempt may give a 500, and the server goes on serving.

Symlinks are only checked on CPython: MicroPython has no os.path.realpath, and
the boards' filesystems (FAT, littlefs) have no symlinks.
"""

import os

import pytest
from conftest import RUNTIMES
from test_hardening_common import (
    OutputWatch,
    exchange,
    parse_responses,
    start_hardening,
    still_serves,
)

SECRET = b"SECRET-"


@pytest.fixture(scope="module", params=RUNTIMES)
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("static")
    public = folder / "public"
    (public / "sub").mkdir(parents=True)
    (public / "a.txt").write_bytes(b"inside a")
    (public / "index.html").write_bytes(b"<h1>index</h1>")
    (public / "sub" / "b.txt").write_bytes(b"inside b")
    (public / "%2e%2e").write_bytes(b"a file named %2e%2e")
    (folder / "secret.txt").write_bytes(SECRET + b"outside")
    (folder / "secret.txt.gz").write_bytes(SECRET + b"outside gz")
    (folder / "public-secret").mkdir()  # a sibling sharing the name prefix
    (folder / "public-secret" / "s.txt").write_bytes(SECRET + b"sibling")
    (folder / "publicity.txt").write_bytes(SECRET + b"prefix file")
    # Symlinks leading out (CPython must refuse them).
    os.symlink(folder / "secret.txt", public / "link.txt")
    os.symlink("../public-secret", public / "sibling-dir")
    os.symlink("..", public / "up")
    os.symlink(folder / "secret.txt", public / "evil.txt.gz")
    os.symlink(folder / "secret.txt", public / "sub" / "index.html")
    running = start_hardening(request.param, folder, static=public)
    running.folder = folder
    yield running
    running.stop()


def attempts(folder):
    absolute = str(folder / "secret.txt").encode()
    return [
        # (target, needs realpath: only refused on CPython)
        (b"/static/../secret.txt", False),
        (b"/static/../../../../../../etc/passwd", False),
        (b"/static/./../secret.txt", False),
        (b"/static/sub/../../secret.txt", False),
        (b"/static/%2e%2e/secret.txt", False),
        (b"/static/%2E%2E/secret.txt", False),
        (b"/static/.%2e/secret.txt", False),
        (b"/static/%2e%2e%2fsecret.txt", False),
        (b"/static/..%2fsecret.txt", False),
        (b"/static/..%2Fsecret.txt", False),
        (b"/static/sub%2f..%2f..%2fsecret.txt", False),
        (b"/static/%252e%252e/secret.txt", False),  # double encoding
        (b"/static/%252e%252e%252fsecret.txt", False),
        (b"/static/..%5csecret.txt", False),
        (b"/static/..\\secret.txt", False),
        (b"/static/sub\\..\\..\\secret.txt", False),
        (b"/static/..%255csecret.txt", False),
        (b"/static/....//secret.txt", False),
        (b"/static/...//secret.txt", False),
        (b"/static/..;/secret.txt", False),
        (b"/static/..%00/secret.txt", False),
        (b"/static/a.txt%00../../secret.txt", False),
        (b"/static/%00", False),
        (b"/static/%c0%ae%c0%ae/secret.txt", False),  # overlong UTF-8 dots
        (b"/static/%e0%80%ae%e0%80%ae/secret.txt", False),
        (b"/static/%uff0e%uff0e/secret.txt", False),
        (b"/static/\xef\xbc\x8e\xef\xbc\x8e/secret.txt", False),  # fullwidth dots
        (b"/static//" + absolute, False),
        (b"/static/" + absolute.replace(b"/", b"%2f"), False),
        (b"/static/" + absolute, False),
        (b"/static/file:" + absolute, False),
        (b"/static/C:\\secret.txt", False),
        (b"/static/../public-secret/s.txt", False),
        (b"/static/../publicity.txt", False),
        (b"/static-secret/s.txt", False),
        (b"/static../secret.txt", False),
        (b"/staticity.txt", False),
        (b"http://h/static/../secret.txt", False),
        (b"/static/link.txt", True),
        (b"/static/sibling-dir/s.txt", True),
        (b"/static/up/secret.txt", True),
        (b"/static/up/public-secret/s.txt", True),
        (b"/static/evil.txt", True),  # evil.txt.gz is a link out
        (b"/static/sub/", True),  # sub/index.html is a link out
        (b"/static/sub", True),
    ]


def _get(server, target, method=b"GET", headers=b""):
    result = exchange(
        server.port,
        method
        + b" "
        + target
        + b" HTTP/1.1\r\nHost: h\r\n"
        + headers
        + b"Connection: close\r\n\r\n",
    )
    if method == b"HEAD":
        result.responses = parse_responses(result.data, head_only=(0,))
    return result


def test_files_inside_are_served(server):
    for target, body in (
        (b"/static/a.txt", b"inside a"),
        (b"/static/sub/b.txt", b"inside b"),
        (b"/static/", b"<h1>index</h1>"),
        (b"/static/%252e%252e", b"a file named %2e%2e"),
    ):
        result = _get(server, target)
        assert result.statuses == [200] and result.responses[0].body == body, (target, result)


def test_folder_without_slash_is_redirected_inside(server):
    # Issue 17: the relative links of index.html need the slash.
    result = _get(server, b"/static")
    assert result.statuses == [301], result
    assert b"Location: /static/\r\n" in result.data, result


def test_traversal_attempts_never_leave_the_directory(server):
    watch = OutputWatch(server)
    failures = []
    for target, needs_realpath in attempts(server.folder):
        if needs_realpath and server.runtime == "micropython":
            continue
        for method in (b"GET", b"HEAD"):
            for headers in (b"", b"Accept-Encoding: gzip\r\n"):
                result = _get(server, target, method, headers)
                if (
                    SECRET in result.data
                    or result.status not in (400, 403, 404)
                    or not result.responses[0].complete
                ):
                    failures.append((method, target, headers, result))
    assert not failures, "\n".join(repr(f) for f in failures)
    watch.assert_quiet(server.runtime)
    assert still_serves(server)
