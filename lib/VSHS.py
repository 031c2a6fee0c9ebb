"""VSHS (Very Simple HTTP Server) on top of httpserver: routes as a folder.

    import asyncio
    from VSHS import startHTTPServer

    asyncio.run(startHTTPServer(hostname="localhost", port=8080,
                                routes="/routes", static="/assets"))

routes/hello-world/GET.py answers GET /hello-world with the value its
`async def default(url, body, route)` returns; a folder named {name} is a path
variable (route.vars["name"]). Route files are loaded once, at start-up. The
request body is typed by its Content-Type and the returned value by its type,
as VSHS does; an exception answers 500 with its message, HTTPError(code,
message) answers code, and routes/errors/<code>/GET.py, when it exists, writes
the body of error responses. Files below `static` are served for the URLs no
route takes, a folder giving its index.html. Paths starting with "/" are
relative to rootDir(), the folder of the main script.
"""

import json
import os
import sys

from httpserver import App, HTTPException, JSONResponse, Response, runtime
from httpserver.errors import InvalidBody
from httpserver.protocol import parse_query
from httpserver.streaming import StreamingResponse

__all__ = [
    "startHTTPServer",
    "rootDir",
    "SSEResponse",
    "HTTPError",
    "get_query",
    "Blob",
    "MultiDict",
    "URL",
    "Route",
]

_DIRECTORY = 0x4000
_TEXT = "text/plain; charset=utf-8"
_GENERATOR = type((lambda: (yield))())
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, PATCH, PUT, OPTIONS, DELETE",
}

try:
    import traceback  # noqa: F401  (CPython's, or micropython-lib's when installed)
except ImportError:
    # Route files written for CPython often call traceback.print_exc();
    # give them the little of it that MicroPython can do.
    class _Traceback:
        @staticmethod
        def print_exception(exc, *args, **kwargs):
            if not isinstance(exc, BaseException):  # print_exception(type, value, tb)
                exc = args[0] if args else kwargs.get("value")
            sys.print_exception(exc)

        @staticmethod
        def print_exc(*args, **kwargs):
            exc = sys.exc_info()[1]
            if exc is not None:
                sys.print_exception(exc)

        @staticmethod
        def format_exc(*args, **kwargs):
            import io

            exc = sys.exc_info()[1]
            if exc is None:
                return "NoneType: None\n"
            out = io.StringIO()
            sys.print_exception(exc, out)
            return out.getvalue()

    sys.modules["traceback"] = _Traceback


def rootDir():
    """The folder of the main script (the current folder when there is none)."""
    import __main__

    path = getattr(__main__, "__file__", None)
    if not path:
        return os.getcwd()
    path_module = getattr(os, "path", None)  # not on a board
    if path_module is not None:
        return path_module.dirname(path_module.abspath(path))
    folder = path.rpartition("/")[0]
    if not path.startswith("/"):
        cwd = os.getcwd().rstrip("/")
        folder = cwd + "/" + folder if folder else cwd
    return folder or "/"


class HTTPError(HTTPException):
    """Raise HTTPError(code, message) in a route to answer code with message."""

    def __init__(self, error_code, message=None):
        HTTPException.__init__(self, error_code, message)
        self.error_code = error_code


class Blob:
    """Like a JS Blob: content with a MIME type."""

    def __init__(self, content=b"", type=""):
        if isinstance(content, str):
            content = content.encode()
        self._content = bytes(content)
        self.type = type

    @property
    def size(self):
        return len(self._content)

    async def text(self):
        return self._content.decode()

    async def bytes(self):
        return self._content

    def __repr__(self):
        return "<Blob %d bytes %s>" % (len(self._content), self.type)


class MultiDict:
    """Keys with one or more values, as in a query string (multidict-like)."""

    def __init__(self, pairs=None):
        self._items = {}
        if isinstance(pairs, dict):
            pairs = pairs.items()
        for key, value in pairs or ():
            self.add(key, value)

    def add(self, key, value):
        if key in self._items:
            self._items[key].append(value)
        else:
            self._items[key] = [value]

    def getall(self, key, *default):
        if key in self._items:
            return list(self._items[key])
        if default:
            return default[0]
        raise KeyError(key)

    def getone(self, key, *default):
        if key in self._items:
            return self._items[key][0]
        if default:
            return default[0]
        raise KeyError(key)

    def get(self, key, default=None):
        return self.getone(key, default)

    def __getitem__(self, key):
        return self.getone(key)

    def __contains__(self, key):
        return key in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def keys(self):
        return self._items.keys()

    def items(self):
        return [(k, v) for k, values in self._items.items() for v in values]

    def encode(self):
        from httpserver.forms import urlencode

        return urlencode(self.items())

    def __repr__(self):
        return "<MultiDict %r>" % (self.items(),)


class URL:
    """The requested URL: path (decoded), query (a MultiDict), query_string,
    scheme, host and port; str(url) gives it whole."""

    def __init__(self, request):
        self.path = request.path
        self.query_string = request.query_string
        self.scheme = getattr(request, "scheme", "http")
        host = request.headers.get("host") or ""
        name, colon, port = host.rpartition(":")
        if colon and port.isdigit() and (name.endswith("]") or "]" not in host):
            self.host, self.port = name, int(port)
        else:
            self.host, self.port = host, None
        self._query = None

    @property
    def query(self):
        if self._query is None:
            query = MultiDict()
            for key, values in parse_query(self.query_string).items():
                for value in values:
                    query.add(key, value)
            self._query = query
        return self._query

    def __str__(self):
        port = ":%d" % self.port if self.port is not None else ""
        query = "?" + self.query_string if self.query_string else ""
        return "%s://%s%s%s%s" % (self.scheme, self.host, port, self.path, query)

    def __repr__(self):
        return "URL(%r)" % str(self)


def get_query(url):
    """The query as a dict: a value, or a list of them when a key repeats."""
    query = url.query
    result = {}
    for key in query:
        values = query.getall(key)
        result[key] = values if len(values) > 1 else values[0]
    return result


class Route:
    """What a handler gets as `route`: path ("/params/{name}/POST") and vars."""

    def __init__(self, handler, path, vars):
        self.handler = handler
        self.path = path
        self.vars = vars

    def __repr__(self):
        return "<Route %s %r>" % (self.path, self.vars)


class SSEResponse(StreamingResponse):
    """Server-sent events: run(self) is awaited once the headers are sent, and
    each `await self.send(data, event=None)` sends one event (data as JSON).
    send raises OSError once the client has gone."""

    def __init__(self, run):
        StreamingResponse.__init__(self, None, 200, None, "text/event-stream")
        self._run = run
        self.streaming = False  # while run() runs; send() outside it raises
        self.closed = False

    async def produce(self, sink):
        self._sink = sink
        self.streaming = True
        try:
            await self._run(self)
        finally:
            self.streaming = False
        if self.closed:
            raise OSError("the client has gone")

    async def close(self):
        pass  # no generator: run() is only called by produce()

    async def send(self, data, event=None):
        if not self.streaming or self.closed:
            self.closed = True
            raise OSError("the client has gone")
        text = "data: %s\n\n" % json.dumps(data)
        if event is not None:
            event = str(event)
            if "\n" in event or "\r" in event:
                raise ValueError("line break in an event name")
            text = "event: %s\n%s" % (event, text)
        try:
            await self._sink.send(text.encode())
        except Exception as exc:
            self.closed = True
            raise OSError("the client has gone: %s" % (exc,))


# Loading the routes folder ----------------------------------------------------


def _is_method(name):
    if not name:
        return False
    for char in name:
        if not "A" <= char <= "Z":
            return False
    return True


def _is_directory(path):
    try:
        return bool(os.stat(path)[0] & _DIRECTORY)
    except OSError:
        return False


def _route_files(folder, parts, found, seen):
    """Append (folder parts, METHOD, file path) for every route file below folder."""
    for name in sorted(os.listdir(folder)):
        if name.startswith(".") or name.startswith("__"):
            continue
        path = folder + "/" + name
        if _is_directory(path):
            _route_files(path, parts + [name], found, seen)
            continue
        stem, dot, extension = name.rpartition(".")
        if (
            dot
            and _is_method(stem)
            and (extension == "py" or extension == "mpy" and hasattr(sys.implementation, "_mpy"))
        ):
            key = "/".join(parts + [stem])
            if key not in seen:  # GET.py and GET.mpy: one route
                seen.add(key)
                found.append((parts, stem, path))
    return found


def _load_handler(parts, method, path):
    """The default() function of one route file."""
    try:
        import importlib.util
    except ImportError:
        importlib = None
    if importlib is None:
        # No importlib (a board): import the file by its name from its own folder.
        import gc

        folder = path.rpartition("/")[0]
        sys.modules.pop(method, None)
        sys.path.insert(0, folder)
        try:
            module = __import__(method)
        finally:
            sys.path.pop(0)
            sys.modules.pop(method, None)
        gc.collect()  # compiling left garbage: free it before the next file
    else:
        name = ".".join(["routes"] + parts + [method])
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    handler = getattr(module, "default", None)
    if handler is None:
        raise ValueError("route file %s defines no default(url, body, route)" % path)
    return handler


class _Routes:
    """The route table, built once: fixed paths by dict, variable ones in order."""

    def __init__(self, folder):
        self.fixed = {}  # "/a/b" -> {method: (handler, route path)}
        self.variable = []  # (segments, {method: (handler, route path)})
        if not _is_directory(folder):
            raise OSError("VSHS: no routes folder at %s" % folder)
        for parts, method, path in _route_files(folder, [], [], set()):
            handler = _load_handler(parts, method, path)
            route_path = "/" + "/".join(parts + [method])
            segments = [
                (part[1:-1] if part[:1] == "{" and part[-1:] == "}" else None, part)
                for part in parts
            ]
            if all(name is None for name, _ in segments):
                self.fixed.setdefault("/" + "/".join(parts), {})[method] = (handler, route_path)
                continue
            for known, methods in self.variable:
                if [s[1] for s in known] == parts:
                    methods[method] = (handler, route_path)
                    break
            else:
                self.variable.append((segments, {method: (handler, route_path)}))
        # Literal segments win over variables, position by position.
        self.variable.sort(key=lambda entry: [name is not None for name, _ in entry[0]])

    def resolve(self, method, path):
        """Route for the request, None when no route has its path; HTTPError
        405 when routes have the path but not the method."""
        methods = self.fixed.get(path)
        vars = {}
        if methods is None:
            parts = path[1:].split("/") if path != "/" else []
            for segments, candidate in self.variable:
                vars = _match(segments, parts)
                if vars is not None:
                    methods = candidate
                    break
        if methods is None:
            return None
        entry = methods.get(method)
        if entry is None and method == "HEAD":
            entry = methods.get("GET")
        if entry is None:
            allowed = list(methods)
            if "GET" in methods and "HEAD" not in methods:
                allowed.append("HEAD")
            raise HTTPException(405, None, {"Allow": ", ".join(allowed + ["OPTIONS"])})
        return Route(entry[0], entry[1], vars)


def _match(segments, parts):
    if len(segments) != len(parts):
        return None
    vars = {}
    for index in range(len(parts)):
        name, literal = segments[index]
        part = parts[index]
        if name is None:
            if part != literal:
                return None
        elif not part:
            return None
        else:
            vars[name] = part
    return vars


# Typing bodies and answers ----------------------------------------------------


def _plain_dict(params):
    return {k: (v if len(v) > 1 else v[0]) for k, v in params.items()}


def _typed_body(request):
    body = request.body
    if not body:
        return None
    content_type = request.headers.get("content-type") or ""
    mime = content_type.split(";")[0].strip().lower()
    if mime == "application/json":
        return request.json()  # invalid JSON: HTTPException 400
    if mime == "text/plain" or mime == "application/x-www-form-urlencoded":
        text = request.text()  # invalid UTF-8: HTTPException 400
        try:
            return json.loads(text)  # as VSHS: JSON first
        except ValueError:
            pass
        if mime == "text/plain":
            return text
        return _plain_dict(parse_query(body))
    if mime == "application/octet-stream" or not mime:
        return body
    return Blob(body, content_type)


def _typed_answer(value):
    if isinstance(value, Response):  # SSEResponse, or any httpserver response
        return value
    if isinstance(value, str):
        return Response(value, 200, None, _TEXT)
    if isinstance(value, (bytes, bytearray)):
        return Response(bytes(value), 200, None, "application/octet-stream")
    if isinstance(value, Blob):
        return Response(value._content, 200, None, value.type or "application/octet-stream")
    if isinstance(value, MultiDict):
        return Response(value.encode(), 200, None, "application/x-www-form-urlencoded")
    return JSONResponse(value)


async def _settle(value):
    if isinstance(value, _GENERATOR) or hasattr(value, "__await__"):
        return await value
    return value


class _Server:
    def __init__(self, app, routes):
        self.app = app
        self.routes = routes
        app.before_request(self.handle)
        app.after_request(self.cors)
        # Exception takes unexpected errors only: HTTP errors and bodies that
        # do not parse (a ValueError) are registered for by their own class.
        for kind in (Exception, HTTPException, InvalidBody):
            app.errorhandler(kind)(self.error)

    async def handle(self, request):
        if request.method == "OPTIONS":
            return Response(b"", 200)
        route = self.routes.resolve(request.method, request.path)
        if route is None:
            return None  # static files, or 404
        body = _typed_body(request)
        answer = await _settle(route.handler(url=URL(request), body=body, route=route))
        return _typed_answer(answer)

    async def error(self, request, exc):
        code = exc.status_code if isinstance(exc, (HTTPException, InvalidBody)) else 500
        message = str(exc) or ("Internal Server Error" if code == 500 else "")
        try:
            route = self.routes.resolve("GET", "/errors/%d" % code)
        except HTTPException:
            route = None
        if route is not None:
            try:
                answer = await _settle(route.handler(url=URL(request), body=message, route=route))
                response = _typed_answer(answer)
                response.status_code = code
                return response
            except MemoryError:
                raise
            except Exception as error:
                _log(error)
        return Response(message, code, None, _TEXT)

    async def cors(self, request, response):
        for name, value in CORS_HEADERS.items():
            response.headers.setdefault(name, value)


def _log(exc):
    runtime.log_exception(exc)


def _folder(path):
    if path[:1] == "/":
        inside = rootDir().rstrip("/") + path
        if _is_directory(inside) or not _is_directory(path):
            return inside
    return path.rstrip("/") or "/"


async def startHTTPServer(
    hostname="localhost", port=8080, routes="/routes", static=None, **options
):
    """Load the routes folder, then serve until the server is shut down.

    options are passed to httpserver's App (max_body_size, read_timeout, ...).
    """
    table = _Routes(_folder(routes))
    app = App(**options)
    _Server(app, table)
    if static is not None:
        app.static("", _folder(static))
    await app.start_server(host=hostname, port=port)
