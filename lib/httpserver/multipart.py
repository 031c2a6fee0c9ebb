# multipart/form-data (RFC 7578) read as it arrives, in bounded RAM: one
# buffer for the whole body, scanned for the boundary. Fields come as
# strings, file parts as readers that the handler saves or iterates.
# Loaded with the first multipart body.
#
#   from httpserver.multipart import parts
#
#   @app.post("/upload", stream=True)
#   async def upload(request):
#       async for part in parts(request):
#           if part.filename is None:
#               print(part.name, part.value)      # a field: str
#           else:
#               await part.save("/data/" + part.filename)
from .response import HTTPException
from .runtime import const
from .uploads import Reader, in_hand, reader, save

# A body that ends without its final boundary, a part without a name, and
# other malformed input: 400. Over a limit: 413.
_MALFORMED = "malformed multipart body"
_MAX_BOUNDARY = const(70)  # RFC 2046 5.1.1


def boundary_of(content_type):
    """The boundary parameter of a multipart/form-data Content-Type, or None
    when the type is another."""
    kind, _, parameters = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for name, value in _parameters(parameters):
        if name == "boundary" and 0 < len(value) <= _MAX_BOUNDARY:
            return value
    raise HTTPException(400, "multipart/form-data without a valid boundary")


def _parameters(text):
    """(lowercase name, value) of `; name=value; name="quoted"` parameters."""
    result = []
    while text:
        text = text.lstrip(" \t;")
        name, equals, text = text.partition("=")
        if not equals:
            break
        text = text.lstrip(" \t")
        if text[:1] == '"':
            # Up to the next quote, backslashes kept: browsers send a
            # filename's quote as %22 and its backslashes as they are
            # (WHATWG HTML, multipart/form-data encoding).
            value, _, text = text[1:].partition('"')
        else:
            value, _, rest = text.partition(";")
            value = value.strip(" \t")
            text = rest
        result.append((name.strip(" \t").lower(), value))
    return result


# Default limits of parts() (also what request.form() parses with).
_MAX_PARTS = const(32)
_MAX_HEADER_SIZE = const(1024)
_MAX_FIELD_SIZE = const(4096)


def parts(
    request,
    max_parts=_MAX_PARTS,
    max_header_size=_MAX_HEADER_SIZE,
    max_field_size=_MAX_FIELD_SIZE,
):
    """The parts of a multipart/form-data request body, as they arrive:
    `async for part in parts(request)`.

    A part without a filename is a field: part.value holds it as a str
    (at most max_field_size bytes). A file part is read with
    `await part.save(path)`, `async for chunk in part`, part.read(n) or
    part.readinto(view); what the handler does not read of it is skipped.
    More than max_parts parts, a part's header block over max_header_size
    or a field over max_field_size is HTTPException(413); a body that is
    not multipart/form-data, is malformed or ends without its final
    boundary, 400.
    """
    return _parts(request, reader(request), max_parts, max_header_size, max_field_size)


def _parts(request, body, *limits):
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise HTTPException(400, "not multipart/form-data")
    return Parts(body, boundary.encode(), *limits)


class Parts:
    """The parser: the body's reader, one buffer, and the part being read."""

    scratch = None  # what fields are read through

    def __init__(self, body, boundary, max_parts, max_header_size, max_field_size):
        self.body = body
        # Each part ends at CRLF "--" boundary. The body may start with the
        # first boundary at once: a CRLF put in front lets one search find
        # them all (what comes before is the preamble, dropped).
        self.delimiter = b"\r\n--" + boundary
        # Room for a part's header block at its limit: the one block this
        # needs, small enough to be found on a board's fragmented heap, and
        # the same on both runtimes.
        size = max_header_size + len(self.delimiter) + 4
        self.buffer = bytearray(size)
        self.buffer[:2] = b"\r\n"
        self.view = memoryview(self.buffer)  # sliced, not made again, per read
        self.start = 0  # unread data is buffer[start:end]
        self.end = 2
        self.count = 0
        self.max_parts = max_parts
        self.max_header_size = max_header_size
        self.max_field_size = max_field_size
        self.part = Part(self)  # the preamble, read as a part and dropped
        self.finished = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        part = self.part
        # What the handler left of the previous part (or the preamble).
        view = self.view[:0]  # readinto with nothing to fill skips
        while not part.done:
            await part.readinto(view)
        if not self.finished:
            part = self.part = Part(self)
            await part.read_head()  # finds the final boundary instead, at the end
        if self.finished:
            raise StopAsyncIteration
        self.count += 1
        if self.count > self.max_parts:
            raise HTTPException(413, "too many parts")
        if part.filename is None:
            part.value = await self._field(part)
        return part

    async def _field(self, part):
        if self.scratch is None:
            self.scratch = memoryview(bytearray(256))
        pieces = []
        size = 0
        while True:
            count = await part.readinto(self.scratch)
            if not count:
                break
            size += count
            if size > self.max_field_size:
                raise HTTPException(413, "form field too large")
            pieces.append(bytes(self.scratch[:count]))
        try:
            return b"".join(pieces).decode()
        except UnicodeError:
            raise HTTPException(400, "form field is not UTF-8")

    async def fill(self):
        """More of the body into the buffer, after what is unread; 400 when
        the body has ended (the final boundary has not come)."""
        buffer = self.buffer
        if self.start:
            # Move what is unread to the front (rarely much: at most a
            # delimiter's length, or a header block).
            unread = self.end - self.start
            buffer[:unread] = buffer[self.start : self.end]  # a copy: they may overlap
            self.start, self.end = 0, unread
        if self.end == len(buffer):
            raise HTTPException(413, "multipart part header too large")
        count = await self.body.readinto(self.view[self.end :])
        if not count:
            raise HTTPException(400, _MALFORMED)
        self.end += count


class Part(Reader):
    """One part: name, filename (None for a field), content_type, headers
    (lowercase names), value (a field's str); its data is read as it
    arrives (Reader's read(), `async for`, readinto()) or saved."""

    name = filename = value = None
    content_type = "text/plain"
    done = False

    def __init__(self, parts):
        self.parts = parts
        self.headers = {}

    async def read_head(self):
        """The header block after the boundary line, up to its empty line."""
        parts = self.parts
        while True:
            buffer = parts.buffer
            # The boundary line's end: CRLF for a part, "--" for the last.
            if parts.end - parts.start >= 2:
                if buffer[parts.start : parts.start + 2] == b"--":
                    parts.finished = True
                    self.done = True
                    return
                if buffer[parts.start : parts.start + 2] != b"\r\n":
                    raise HTTPException(400, _MALFORMED)
                end = buffer.find(b"\r\n\r\n", parts.start, parts.end)
                # The block without the boundary line's CRLF and the empty line;
                # while its end has not come: CRLF, the block and at most three
                # bytes of the CRLF CRLF that ends it.
                if (end < 0 and parts.end - parts.start > parts.max_header_size + 5) or (
                    end - parts.start - 2 > parts.max_header_size
                ):
                    raise HTTPException(413, "multipart part header too large")
                if end >= 0:
                    block = bytes(buffer[parts.start + 2 : end])
                    parts.start = end + 4
                    self._head(block)
                    return
            await parts.fill()

    def _head(self, block):
        try:
            lines = block.decode().split("\r\n") if block else ()
        except UnicodeError:
            raise HTTPException(400, _MALFORMED)
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise HTTPException(400, _MALFORMED)
            self.headers[name.strip().lower()] = value.strip(" \t")
        disposition = self.headers.get("content-disposition", "")
        kind, _, parameters = disposition.partition(";")
        if kind.strip().lower() != "form-data":
            raise HTTPException(400, "part without Content-Disposition: form-data")
        for name, value in _parameters(parameters):
            if name == "name":
                self.name = value
            elif name == "filename":
                # A path some browsers send: only its last name is the file's
                # (never "." or "..", which would name a folder).
                base = value.replace("\\", "/").rsplit("/", 1)[-1]
                self.filename = "" if base in (".", "..") else base
        if self.name is None:
            raise HTTPException(400, "part without a name")
        self.content_type = self.headers.get("content-type", self.content_type)

    async def readinto(self, view):
        """The part's next bytes into view; how many, 0 at its end. An
        empty view skips what the buffer holds of the part."""
        parts = self.parts
        delimiter = parts.delimiter
        while not self.done:
            buffer = parts.buffer
            start = parts.start
            found = buffer.find(delimiter, start, parts.end)
            if found >= 0:
                ready = found - start
            else:
                # The end may hold the start of a delimiter split across reads.
                ready = max(0, parts.end - start - len(delimiter) + 1)
            if ready and not len(view):
                parts.start = start + ready  # skipped
                continue
            if ready:
                count = min(ready, len(view))
                view[:count] = parts.view[start : start + count]
                parts.start = start + count
                return count
            if found >= 0:
                parts.start = found + len(delimiter)
                self.done = True
                break
            await parts.fill()
        return 0

    async def save(self, path):
        """Write the part's data to path (safely: see uploads.save); its size."""
        return await save(self, path)


def form(request):
    """request.form() for a multipart/form-data body read whole (an ordinary
    route): the fields as a dict of lists of str; file parts are left out."""
    fields = {}
    # Nothing here waits: the body is in hand, so the parse runs to its end
    # at the first step. A reader of its own: the request's stays unread, so
    # form() may be called again and read() still gives the body.
    body = in_hand(request.body)
    limits = _MAX_PARTS, _MAX_HEADER_SIZE, _MAX_FIELD_SIZE
    parsing = _fields(_parts(request, body, *limits), fields)
    try:
        parsing.send(None)
    except StopIteration:
        return fields
    raise RuntimeError("multipart form() on a streamed body: use parts()")


async def _fields(source, fields):
    async for part in source:
        if part.filename is None:
            fields.setdefault(part.name, []).append(part.value)
