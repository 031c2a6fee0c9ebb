from .response import HTTPException, Response, coerce
from .routing import Router

if False:  # for type checkers only: MicroPython's compiler drops the block
    from collections.abc import Callable, Iterable
    from typing import Any, TypeVar

    Handler = TypeVar("Handler", bound=Callable[..., Any])

# The runtime shim, loaded with the first request, not by the import:
# defining an app needs neither it nor asyncio. Kept once loaded: an import
# statement on every request cost CPython about 5% of its rate.
runtime = None


class App:
    """An HTTP application: routes, hooks and error handlers, and its server.

    Limits are keyword arguments; their defaults suit a board with tens of
    kilobytes of heap (max_connections is larger on CPython).
    """

    def __init__(
        self,
        *,
        max_body_size: int = 1048576,
        read_timeout: float = 30.0,
        keepalive_timeout: float = 5.0,
        max_connections: "int | None" = None,
        max_request_line: int = 2048,
        max_head_size: int = 4096,
        max_headers: int = 48,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self.max_body_size = max_body_size
        self.read_timeout = read_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_connections = max_connections
        self.max_request_line = max_request_line
        self.max_head_size = max_head_size
        self.max_headers = max_headers
        self.shutdown_timeout = shutdown_timeout
        self._router = Router()

    host: "str | None" = None  # where the server listens, once it does
    port: "int | None" = None
    server = None
    _make_server = None  # or what makes the server (uploads.py's, for body options)
    # Hooks and error handlers: empty tuples until something is registered
    # (an app with none holds no containers for them).
    _before = _after = _startup = _shutdown = _class_handlers = ()
    _code_handlers = {}  # replaced, never changed in place

    # Registration -------------------------------------------------------

    def route(
        self, url_pattern: str, methods: "Iterable[str] | None" = None, **options: "Any"
    ) -> "Callable[[Handler], Handler]":
        """Register the decorated function for a URL pattern (GET by default).

        methods=["*"] accepts every method. Keyword options (uploads.py):
        stream=True hands the handler the request before its body is read
        (request.stream(), request.read(n)); max_body_size=N is the route's
        own limit. Taken as **options: a default argument costs every app heap.
        """

        def register(handler):
            if options:
                from .uploads import add_route

                return add_route(self, url_pattern, methods, handler, options)
            self._router.add(url_pattern, methods or ("GET",), handler)
            return handler

        return register

    def get(self, path: str) -> "Callable[[Handler], Handler]":
        return self.route(path, ("GET",))

    def post(self, path: str, **options: "Any") -> "Callable[[Handler], Handler]":
        return self.route(path, ("POST",), **options)

    def put(self, path: str, **options: "Any") -> "Callable[[Handler], Handler]":
        return self.route(path, ("PUT",), **options)

    def delete(self, path: str) -> "Callable[[Handler], Handler]":
        return self.route(path, ("DELETE",))

    def patch(self, path: str) -> "Callable[[Handler], Handler]":
        return self.route(path, ("PATCH",))

    def static(self, url_prefix: str, directory: str, **options: "Any") -> None:
        """Serve the files below directory at url_prefix (GET and HEAD).

        The files answer only paths that no route matches, whatever the
        order of registration. A directory that does not exist is an error
        here, at start-up, rather than a 404 for every file later.

        Keyword options: max_age=None sends Cache-Control: no-cache (the
        browser revalidates, a 304 while the file is unchanged); seconds
        send max-age=N. Taken as **options, not max_age=None: a default
        argument costs the heap of every app, static files or not.
        """
        from .files import serve_folder

        serve_folder(self, url_prefix, directory, **options)

    def websocket(
        self,
        url_pattern: str,
        max_message_size: "int | None" = None,
        subprotocols: "Iterable[str] | None" = None,
        **options: "Any",
    ) -> "Callable[[Handler], Handler]":
        """Register async handler(request, ws, **path_params) for WebSocket at a GET route.

        options: ping_interval=N (seconds), see httpserver.websocket.websocket.
        """
        from .websocket import websocket

        return websocket(self, url_pattern, max_message_size, subprotocols, **options)

    def hub(self, path: str, **options: "Any") -> "Any":
        """A live-dashboard Hub (httpserver.hub) whose clients join at path,
        over SSE or WebSocket; options are Hub's."""
        from .hub import mount

        return mount(self, path, options)

    def on_startup(self, handler: "Handler") -> "Handler":
        """Run handler() (sync or async) once before the server accepts connections."""
        self._startup += (handler,)
        return handler

    def on_shutdown(self, handler: "Handler") -> "Handler":
        """Run handler() once after the server has stopped and drained."""
        self._shutdown += (handler,)
        return handler

    def before_request(self, handler: "Handler") -> "Handler":
        """Run handler(request) before each request; a returned value is the response."""
        self._before += (handler,)
        return handler

    def after_request(self, handler: "Handler") -> "Handler":
        """Run handler(request, response) after each request; it may return a new response."""
        self._after += (handler,)
        return handler

    def errorhandler(
        self, code_or_exc: "int | type[BaseException]"
    ) -> "Callable[[Handler], Handler]":
        """Handle an HTTP status code or an exception class (and its subclasses).

        An HTTP error goes to its status's handler first, then to the handler
        of its most specific class. Exception and BaseException handlers
        take only unexpected errors; with none of those, 500's handler does.
        """

        def register(handler):
            if isinstance(code_or_exc, int):
                self._code_handlers = dict(self._code_handlers)
                self._code_handlers[code_or_exc] = handler
            else:
                self._class_handlers += ((code_or_exc, handler),)
            return handler

        return register

    # Handling -------------------------------------------------------------

    async def dispatch(self, request):
        """The response to a request, after hooks, the handler and error handlers."""
        global runtime
        if runtime is None:
            from . import runtime
        call = runtime.call
        try:
            response = None
            for hook in self._before:
                result = await call(hook, request)
                if result is not None:
                    response = coerce(result)
                    break
            if response is None:
                handler, params = self._router.resolve(request.method, request.path)
                if handler is not None:
                    request.path_params = params
                    response = coerce(await call(handler, request, **params))
                elif request.method == "OPTIONS":
                    response = Response(b"", 204, {"Allow": params})
                else:
                    raise HTTPException(405, None, {"Allow": params})
        except MemoryError:
            raise
        except Exception as exc:
            response = await self.handle_error(request, exc)
        for hook in self._after:
            try:
                result = await call(hook, request, response)
                if result is not None:
                    response = coerce(result)
            except MemoryError:
                raise
            except Exception as exc:
                response = await self.handle_error(request, exc)
        return response

    async def handle_error(self, request, exc):
        """The response for an exception raised while handling request."""
        # The handler lookup loads with the first failure (see failures.py).
        from .failures import handle_error

        return await handle_error(self, request, exc)

    # Serving --------------------------------------------------------------

    async def start_server(
        self,
        host: str = "0.0.0.0",
        port: int = 80,
        ssl: "Any" = None,
        socket: "str | None" = None,
    ) -> None:
        """Serve until shutdown() is called; runs beside other asyncio tasks.

        socket is the path of a Unix domain socket to serve on instead of
        host and port (CPython only).
        """
        import gc

        # The server's code loads now. Collected first, the heap has fewer
        # holes, and a board serves in about 4K less (57K -> 53K, unix port).
        gc.collect()
        from .server import Server

        self.server = (self._make_server or Server)(self)
        try:
            await self.server.serve(host, port, ssl, socket)
        except BaseException as exc:
            self._now_listening(exc)  # never listened: whoever waits must know
            raise

    async def listening(self) -> int:
        """Wait until the server listens; returns the port (useful with port 0).

        Raises what kept the server from listening (a port in use, say).
        """
        state = self._listening
        if state is not True and not isinstance(state, BaseException):
            if state is None:
                # Made only for a waiter: asyncio's Event costs a board heap to load.
                import asyncio

                state = self._listening = asyncio.Event()
            await state.wait()
            state = self._listening
        if state is not True:
            raise state
        return self.port

    # None, the Event a waiter waits on, then True once listening or what
    # kept the server from it.
    _listening = None

    def _now_listening(self, error):
        """The server's word that it listens (error None) or why it cannot."""
        waiting = self._listening
        if waiting is not True and not isinstance(waiting, BaseException):
            self._listening = error or True
            if waiting is not None:
                waiting.set()

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        ssl: "Any" = None,
        socket: "str | None" = None,
    ) -> None:
        """Serve until shutdown(), SIGINT or SIGTERM (blocking); see start_server."""
        import asyncio

        try:
            asyncio.run(self.start_server(host, port, ssl, socket))
        except KeyboardInterrupt:
            pass

    async def __call__(self, scope, receive, send):
        """The ASGI interface, so that uvicorn can serve the app on CPython."""
        from .asgi import serve_asgi

        await serve_asgi(self, scope, receive, send)

    @property
    def connections(self) -> int:
        """How many client connections are open now."""
        return len(self.server.connections) if self.server is not None else 0

    def shutdown(self) -> None:
        """Stop accepting, finish in-flight requests, then make run() return.

        Safe to call from a handler, sync or async.
        """
        if self.server is not None:
            self.server.stop()
