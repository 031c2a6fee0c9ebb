# Files from disk: FileResponse and the handler behind App.static. Sent in
# small blocks, so a file never has to fit in RAM.
import os

# The server's writer for these bodies loads with them, at start-up, rather
# than at the first answer on a crowded heap.
import httpserver.bodies  # noqa: F401

from . import runtime
from .response import HTTPException, Response
from .runtime import const

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


class FileResponse(Response):
    """A file sent from disk; 404 when it does not exist or is not a file.

    The second argument is the content type (guessed from the name when
    None). An int there is a status code, and the arguments then follow
    the order FileResponse(path, status_code, headers, content_type).
    """

    def __init__(self, path, content_type=None, status_code=200, headers=None):
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

    def content_length(self):
        return self.size

    async def produce(self, sink):
        # One buffer for the whole file, read into again and again: a fresh
        # block per read leaves the heap of a board full of holes. Safe to
        # reuse: sink.send() returns once the block is taken (a socket that
        # keeps a reference drains it first; other sinks copy it).
        buffer = bytearray(min(runtime.FILE_BLOCK_SIZE, self.size) or 1)
        view = memoryview(buffer)
        with open(self.path, "rb") as file:
            while True:
                count = file.readinto(buffer)
                if not count:
                    break
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


class StaticFiles:
    """The handler App.static registers: files below one directory."""

    def __init__(self, directory):
        self.directory = str(directory).rstrip("/") or "/"

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
        if stat is not None and stat[0] & _DIRECTORY:
            full += "/index.html"
        if not self._inside(full):
            raise HTTPException(404)
        gzipped = full + ".gz"
        accepts_gzip = "gzip" in request.headers.get("accept-encoding", "")
        plain = _stat(full)
        if (accepts_gzip or plain is None) and _stat(gzipped) is not None and self._inside(gzipped):
            response = FileResponse(gzipped, content_type=content_type_for(full))
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
            return response
        if plain is None or plain[0] & _DIRECTORY:
            raise HTTPException(404)
        return FileResponse(full)


def serve_folder(app, url_prefix, directory):
    """What App.static does: the files below directory answer the paths below
    url_prefix that no route matches. A directory that does not exist is an
    error here, at start-up, rather than a 404 for every file later."""
    try:
        found = os.stat(str(directory))[0] & _DIRECTORY
    except OSError:
        found = False
    if not found:
        raise ValueError("static: no folder %s (current folder %s)" % (directory, os.getcwd()))
    handler = StaticFiles(directory)
    prefix = url_prefix.rstrip("/")
    for pattern in (prefix + "/<path:filepath>", prefix + "/", prefix):
        if pattern:
            app._router.add(pattern, ("GET",), handler, True)
