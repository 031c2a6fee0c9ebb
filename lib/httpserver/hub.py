# Live dashboards: one producer publishes, every viewer receives, over
# Server-Sent Events or WebSocket, and no viewer can hurt the board.
#
#     hub = app.hub("/events")          # or Hub(); app.get("/events")(hub.join)
#     hub.publish({"temp": 21.5})       # sync: returns at once, whoever listens
#
# The messages live once, in the hub's ring of the last `backlog` messages;
# a client is only its position in that ring. So a client that falls behind
# costs no memory: when the ring has moved past it, it loses its oldest
# messages (or is disconnected), and publish() never waits for anyone. The
# client's own writer (its connection's task) sends what it has not had yet,
# under the server's write deadline: a stalled client is closed by it.
# Loaded only by apps that use it.
import asyncio

# The server's writer for these bodies loads with them, at start-up, rather
# than at the first answer on a crowded heap.
import httpserver.bodies  # noqa: F401

from . import runtime
from .response import HTTPException, Response

_HEARTBEAT = b":\n\n"  # an SSE comment: keeps proxies and phones from dropping an idle stream


class Hub:
    """Clients join over SSE (a plain GET) or WebSocket (an upgrade) at one
    route; publish(data, event=None) sends to all of them.

    max_clients: more are refused with 503 (SSE) or before the upgrade.
    backlog: messages kept, for every client at once: how far a client may
    fall behind, and how far back a reconnecting client can resume
    (Last-Event-ID). overflow: "drop" (a client that fell further behind
    loses its oldest messages) or "close" (it is disconnected). keepalive
    (seconds): an SSE comment to every stream and a ping to every WebSocket
    client, which is closed if it has not answered the previous one.
    retry (ms): the SSE reconnection delay told to browsers. replay: how many
    of the latest messages a new client (without Last-Event-ID) gets first.
    welcome(request) returns what a new client gets before anything else,
    to itself alone: a list of (event, data), or None; it may publish. on_message(message) receives what
    WebSocket clients send (a plain or an async function), each message at
    most max_message_size bytes (the WebSocket default: 4 KiB on a board).
    """

    clients = 0  # joined, SSE and WebSocket
    last_id = 0  # id of the latest message (ids start at 1)
    _signal = None  # the Event the writers wait on; set and dropped at each publish
    _ticker = None
    _beats = 0

    def __init__(
        self,
        max_clients=4,
        backlog=8,
        overflow="drop",
        keepalive=15,
        retry=3000,
        replay=0,
        welcome=None,
        on_message=None,
        max_message_size=None,
    ):
        if overflow not in ("drop", "close"):
            raise ValueError("overflow is 'drop' or 'close'")
        self.max_clients = max_clients
        self.close_behind = overflow == "close"
        self.keepalive = keepalive
        self.retry = retry
        self.replay = replay
        self.welcome = welcome
        self.on_message = on_message
        self.max_message_size = max_message_size
        # Message n at n % backlog, as its SSE event (bytes): WebSocket
        # clients take their payload from it.
        self._ring = [None] * max(1, backlog)
        self._sockets = []  # the WebSocket clients, for the keep-alive pings

    # Publishing -------------------------------------------------------------

    def publish(self, data, event=None):
        """Send data to every client; returns its id. Never waits.

        data: str, bytes (UTF-8 text) or anything JSON can encode (sent as
        JSON). Call it from the event loop (a task or an async handler).
        """
        if event and ("\n" in event or "\r" in event):
            raise ValueError("an event name is one line")
        id = self.last_id + 1
        ring = self._ring
        # The oldest goes first: the new one may take its place in the heap.
        # (Should the new one fail, a writer skips the empty slot.)
        ring[id % len(ring)] = None
        ring[id % len(ring)] = _event_bytes(_text(data), event, id)
        self.last_id = id
        self._wake()
        return id

    def _wake(self):
        signal = self._signal
        if signal is not None:
            self._signal = None
            signal.set()

    def _wait(self):
        # One Event for all the writers, made when one waits: publish only sets it.
        signal = self._signal
        if signal is None:
            signal = self._signal = asyncio.Event()
        return signal.wait()

    def _catch_up(self, wanted):
        """Where a client that wants message `wanted` next goes on from: itself,
        the oldest message still kept, or -1 when it is to be disconnected."""
        oldest = self.last_id - len(self._ring) + 1
        if wanted >= oldest:
            return wanted
        return -1 if self.close_behind else oldest

    # Joining ----------------------------------------------------------------

    async def join(self, request, **params):
        """The route handler: an SSE stream, or a WebSocket on an upgrade."""
        if self.clients >= self.max_clients:
            raise HTTPException(503, "too many clients", {"Retry-After": "5"})
        if "upgrade" in request.headers:
            # The WebSocket half loads with the first such client.
            from .hubsocket import session
            from .websocket import WebSocketResponse, handshake

            accept, chosen = handshake(request)
            size = self.max_message_size or runtime.MAX_MESSAGE_SIZE
            return WebSocketResponse(request, session, {"hub": self}, accept, size, chosen)
        return _Stream(self, request)

    def _enter(self):
        """Count a client in; False when the hub filled up since its route answered."""
        if self.clients >= self.max_clients:
            return False
        self.clients += 1
        if self._ticker is None and self.keepalive:
            self._ticker = asyncio.create_task(self._tick())
        return True

    def _start(self, request):
        """The id of the first message a new client is to get: after the
        Last-Event-ID it says it has seen, if the ring still holds what
        follows; else the latest `replay` ones, or the next."""
        seen = request.headers.get("last-event-id")
        if seen:
            try:
                seen = int(seen)
                if 0 <= seen <= self.last_id:
                    return max(seen + 1, self.last_id - len(self._ring) + 1)
            except ValueError:
                pass
        return self.last_id + 1 - min(self.replay, len(self._ring), self.last_id)

    async def _tick(self):
        # One task for every client: beats for the SSE streams, pings for
        # the WebSockets; it ends with the last client.
        try:
            while self.clients:
                await asyncio.sleep(self.keepalive)
                self._beats += 1
                for ws in list(self._sockets):
                    ws.keepalive()
                self._wake()
        finally:
            self._ticker = None


def mount(app, path, options):
    """App.hub(path, **options): a Hub whose route is path (GET)."""
    hub = Hub(**options)
    app.route(path, ("GET",))(hub.join)
    return hub


class _Stream(Response):
    """One client's Server-Sent Events stream; its writer is produce()."""

    def __init__(self, hub, request):
        Response.__init__(self, b"", 200, {"Cache-Control": "no-cache"}, "text/event-stream")
        self.hub = hub
        self.request = request

    def content_length(self):
        return None

    async def produce(self, sink):
        hub = self.hub
        if not hub._enter():
            return  # the hub filled up since the route answered: an empty stream
        try:
            first = _greeting(hub, self.request)
            # After the welcome, which may publish what this client starts with.
            wanted = hub._start(self.request)
            if first:
                await sink.send(first)
            # This frame lives as long as the stream: it keeps no copies.
            first = None
            beats = hub._beats
            while True:
                if wanted <= hub.last_id:
                    wanted = hub._catch_up(wanted)
                    if wanted < 0:
                        return  # too far behind: the stream ends
                    entry = hub._ring[wanted % len(hub._ring)]
                    wanted += 1
                    if entry is not None:
                        await sink.send(entry)
                elif beats != hub._beats:
                    beats = hub._beats
                    await sink.send(_HEARTBEAT)
                else:
                    await hub._wait()
        finally:
            hub.clients -= 1


def _greeting(hub, request):
    # What a new SSE client gets first, to itself alone: no id, so its
    # place in the ring stays. Made here, not in the stream's frame, which
    # lives as long as the stream and would keep the pieces.
    first = b"retry: %d\n\n" % hub.retry if hub.retry else b""
    for event, data in hub.welcome(request) if hub.welcome else ():
        first += _event_bytes(_text(data), event, None)
    return first


def _text(data):
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode()
    from json import dumps  # loaded already: the responses use it

    return dumps(data)


def _event_bytes(text, event, id):
    """One SSE event: every line of the data a data: field (CR, LF and CRLF
    all end a line there). The data is copied once, into the event."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in text:
        text = text.replace("\n", "\ndata: ")
    head = "" if id is None else "id: %d\n" % id
    if event:
        head += "event: %s\n" % event
    return ("%sdata: %s\n\n" % (head, text)).encode()
