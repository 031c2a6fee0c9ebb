# Files from disk: FileResponse and the handler behind App.static. Sent in
# small blocks, so a file never has to fit in RAM.
import os
import time

# The server's writer for these bodies loads with them, at start-up, rather
# than at the first answer on a crowded heap.
import httpserver.bodies  # noqa: F401

from . import runtime
from .response import HTTPException, Response
from .runtime import const

if False:  # for type checkers only: MicroPython's compiler drops the block
    from collections.abc import Mapping
    from typing import Any

# Used where the mimetypes module is missing (on a board), and for the few
# types that matter on one when it is there.
# One string rather than a dict: the keys of a dict would each be interned on
# MicroPython (the qstr table grows in steps of kilobytes). "|ext type" each.
_TYPES = const(
    "|html text/html; charset=utf-8|htm text/html; charset=utf-8"
    "|css text/css; charset=utf-8|js text/javascript; charset=utf-8"
    "|mjs text/javascript; charset=utf-8|json application/json"
    "|txt text/plain; charset=utf-8|csv text/csv; charset=utf-8|xml application/xml"
    "|svg image/svg+xml|png image/png|jpg image/jpeg|jpeg image/jpeg|gif image/gif"
    "|ico image/x-icon|webp image/webp|woff font/woff|woff2 font/woff2"
    "|wasm application/wasm|pdf application/pdf|gz application/gzip"
    "|zip application/zip|mp3 audio/mpeg|wav audio/wav|mp4 video/mp4"
    "|bin application/octet-stream|"
)
_DIRECTORY = 0x4000
# A board without a clock stamps its files with its epoch (1970 or 2000):
# a file time before this year is no time at all.
_FIRST_KNOWN_YEAR = const(2024)
# Bytes a URL path keeps unescaped besides letters and digits (RFC 3986 3.3).
_PATH_SAFE = const(b"/-._~!$&'()*+,;=:@")


def content_type_for(path):
    extension = path.rpartition(".")[2].lower() if "." in path.rpartition("/")[2] else ""
    guessed = runtime.guess_type and runtime.guess_type(path)  # None on a board
    if extension:
        start = _TYPES.find("|%s " % extension)
        if start >= 0:
            return _TYPES[start + len(extension) + 2 : _TYPES.find("|", start + 1)]
    return guessed or "application/octet-stream"


def _stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def _content_checksum(path, size):
    # Only for a board without a clock, where the file time says nothing:
    # CRC-32 runs in C and reads the file in blocks, like sending it does.
    from binascii import crc32

    buffer = bytearray(min(runtime.FILE_BLOCK_SIZE, size) or 1)
    view = memoryview(buffer)
    checksum = 0
    with open(path, "rb") as file:
        while True:
            count = file.readinto(buffer)
            if not count:
                return checksum
            checksum = crc32(view[:count], checksum)


class FileResponse(Response):
    """A file sent from disk; 404 when it does not exist or is not a file.

    The second argument is the content type (guessed from the name when
    None). An int there is a status code, and the arguments then follow
    the order FileResponse(path, status_code, headers, content_type).

    It carries ETag, Last-Modified (when the file time is known) and
    Accept-Ranges; conditional(request, response) answers the request's
    validators and Range with it.
    """

    def __init__(
        self,
        path: "str | os.PathLike[str]",
        content_type: "str | int | None" = None,
        status_code: "int | Mapping[str, Any] | None" = 200,
        headers: "Mapping[str, Any] | str | None" = None,
    ) -> None:
        if isinstance(content_type, int):
            status, content_type = content_type, None
            if not isinstance(status_code, int):
                # The third argument was the headers, so the fourth is the type.
                status_code, headers, content_type = status, status_code, headers
            status_code = status
        path = str(path)
        stat = _stat(path)
        if stat is None or stat[0] & _DIRECTORY:
            raise HTTPException(404)
        Response.__init__(self, b"", status_code, headers, content_type or content_type_for(path))
        self.path = path
        self.size = stat[6]
        # The part of the file that is sent: all of it unless a Range narrows it.
        self.offset = 0
        self.count = self.size
        # Validators: size and file time, or size and content when the board
        # has no clock (its file times are its epoch, 1970 or 2000).
        mtime = stat[8]
        moment = time.gmtime(mtime)
        headers = self.headers
        self.modified = None
        if moment[0] >= _FIRST_KNOWN_YEAR:
            # Here, not at the top: FileResponse can be imported before the
            # server (and its protocol module) is.
            from .protocol import http_date

            self.modified = tuple(moment[:6])
            headers.setdefault("Last-Modified", http_date(moment))
            tag = '"%x-%x"' % (self.size, mtime)
        else:
            tag = '"%x-c%x"' % (self.size, _content_checksum(path, self.size))
        self.etag = headers.setdefault("ETag", tag)  # the handler's own, if given
        headers.setdefault("Accept-Ranges", "bytes")

    def content_length(self):
        return self.count

    async def produce(self, sink):
        # One buffer for the whole file, read into again and again: a fresh
        # block per read leaves the heap of a board full of holes. Safe to
        # reuse: sink.send() returns once the block is taken (a socket that
        # keeps a reference drains it first; other sinks copy it).
        left = self.count
        if not left:
            return
        buffer = bytearray(min(runtime.FILE_BLOCK_SIZE, left))
        view = memoryview(buffer)
        with open(self.path, "rb") as file:
            if self.offset:
                file.seek(self.offset)
            while left:
                count = file.readinto(buffer)
                if not count:
                    break
                count = min(count, left)
                left -= count
                await sink.send(view[:count])


def _safe_relative(filepath):
    """The path below a static directory, or None when it could leave it."""
    if "\\" in filepath or "\x00" in filepath or ":" in filepath:
        return None
    parts = []
    for part in filepath.split("/"):
        if part == "" or part == ".":
            continue
        if part == ".." or part.startswith(".."):
            return None
        parts.append(part)
    return "/".join(parts)


# Conditional requests (RFC 9110 13) and byte ranges (RFC 9110 14) -------------


def conditional(request, response):
    """Answer a request's validators and Range with a FileResponse.

    Returns a 304 in its place when the client's copy is current, else the
    response itself, made a 206 or 416 by a single byte range of a GET.
    A handler that returns FileResponse can use it the same way:
    return conditional(request, FileResponse(path)).
    """
    headers = request.headers
    if "if-none-match" in headers or "if-modified-since" in headers or "range" in headers:
        # Their checks load when a request first carries one (conditions.py).
        from .conditions import answer

        return answer(request, response)
    return response


# Static folders --------------------------------------------------------------


def _directory_redirect(request):
    # Without the slash, the relative links of the folder's index.html
    # would resolve against the parent folder. The decoded path is quoted back.
    from .forms import quote

    location = quote(request.path + "/", _PATH_SAFE)
    if request.query_string:
        location += b"?" + request.query_string.encode()
    return Response(b"", 301, {"Location": location.decode()})


class StaticFiles:
    """The handler App.static registers: files below one directory.

    max_age None: Cache-Control no-cache (the browser asks again each time,
    answered by a 304 while the file is unchanged); an int: max-age=N.
    """

    def __init__(self, directory, max_age=None):
        self.directory = str(directory).rstrip("/") or "/"
        self.cache_control = "no-cache" if max_age is None else "max-age=%d" % max_age

    def _inside(self, full):
        # On CPython, symlinks are resolved so that a link cannot lead out.
        realpath = getattr(getattr(os, "path", None), "realpath", None)
        if realpath is None:
            return True
        root = realpath(self.directory)
        return realpath(full).startswith(root.rstrip("/") + "/")

    async def __call__(self, request, filepath=""):
        relative = _safe_relative(filepath)
        if relative is None:
            raise HTTPException(404)
        full = self.directory + "/" + relative if relative else self.directory
        stat = _stat(full)
        folder = stat is not None and stat[0] & _DIRECTORY
        if folder:
            full += "/index.html"
            stat = _stat(full)
        if not self._inside(full):
            raise HTTPException(404)
        if folder and not request.path.endswith("/"):
            return _directory_redirect(request)
        response = self._negotiate(request, full, stat)
        response.headers["Cache-Control"] = self.cache_control
        return conditional(request, response)

    def _negotiate(self, request, full, plain):
        """The FileResponse for full (plain: its stat, None when missing), or
        for full.gz when the client takes gzip."""
        gzipped = full + ".gz"
        has_gzip = _stat(gzipped) is not None and self._inside(gzipped)
        if plain is not None and plain[0] & _DIRECTORY:
            plain = None
        # With a Range the plain file is sent, so that the range can apply
        # to it: ranges of the compressed bytes would be another resource.
        wants_gzip = takes_gzip(request.headers.get("accept-encoding"))
        if has_gzip and (plain is None or (wants_gzip and "range" not in request.headers)):
            response = FileResponse(gzipped, content_type=content_type_for(full))
            response.headers["Content-Encoding"] = "gzip"
            # A tag of its own: a cache must not take one variant for the other.
            response.etag = response.headers["ETag"] = response.etag[:-1] + '-gz"'
        elif plain is None:
            raise HTTPException(404)
        else:
            response = FileResponse(full)
        if has_gzip:
            # Both answers depend on Accept-Encoding once a variant exists.
            response.headers["Vary"] = "Accept-Encoding"
        return response


def takes_gzip(accept):
    """Whether an Accept-Encoding value takes gzip (RFC 9110 12.5.3): named
    (or x-gzip), else covered by "*", with a weight above 0: "gzip;q=0" is
    a refusal."""
    if not accept:
        return False
    star = False
    for item in accept.lower().split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip()
        weight = params.replace(" ", "")
        try:
            accepted = not weight.startswith("q=") or float(weight[2:]) > 0
        except ValueError:
            accepted = False  # a weight that is not a number: not a yes
        if coding == "gzip" or coding == "x-gzip":
            return accepted
        if coding == "*":
            star = accepted
    return star


def serve_folder(app, url_prefix, directory, max_age=None):
    """What App.static does: the files below directory answer the paths below
    url_prefix that no route matches. A directory that does not exist is an
    error here, at start-up, rather than a 404 for every file later."""
    try:
        found = os.stat(str(directory))[0] & _DIRECTORY
    except OSError:
        found = False
    if not found:
        raise ValueError("static: no folder %s (current folder %s)" % (directory, os.getcwd()))
    handler = StaticFiles(directory, max_age)
    prefix = url_prefix.rstrip("/")
    for pattern in (prefix + "/<path:filepath>", prefix + "/", prefix):
        if pattern:
            app._router.add(pattern, ("GET",), handler, True)
