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
import json

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
    retry (ms): the SSE reconnection delay told to browsers. welcome(request)
    returns what a new client gets first, before the published messages: a
    list of (event, data), or None. on_message(message) receives what
    WebSocket clients send (a plain or an async function).
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
        self.welcome = welcome
        self.on_message = on_message
        self.max_message_size = max_message_size
        # Entry for message n at n % backlog: (SSE event bytes, WebSocket payload).
        self._ring = [None] * max(1, backlog)
        self._sockets = []  # the WebSocket clients, for the keep-alive pings

    # Publishing -------------------------------------------------------------

    def publish(self, data, event=None):
        """Send data to every client; returns its id. Never waits.

        data: str, bytes (UTF-8 text) or anything JSON can encode (sent as
        JSON). Call it from the event loop (a task or an async handler).
        """
        text = _text(data)
        self.last_id += 1
        self._ring[self.last_id % len(self._ring)] = (
            _event_bytes(text, event, self.last_id),
            text,
        )
        self._wake()
        return self.last_id

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
            from .websocket import WebSocketResponse, handshake

            accept, chosen = handshake(request)
            size = self.max_message_size or runtime.MAX_MESSAGE_SIZE
            return WebSocketResponse(request, self._websocket, {}, accept, size, chosen)
        return _Stream(self, request)

    def _enter(self):
        """Count a client in; False when the hub filled up meanwhile."""
        if self.clients >= self.max_clients:
            return False
        self.clients += 1
        if self._ticker is None and self.keepalive:
            self._ticker = asyncio.create_task(self._tick())
        return True

    def _first(self, request):
        # Where a new client starts: after what it has seen, if it says (and
        # the ring still has it), else with the next message.
        seen = request.headers.get("last-event-id")
        if seen:
            try:
                seen = int(seen)
            except ValueError:
                seen = None
            if seen is not None and 0 <= seen <= self.last_id:
                oldest = self.last_id - len(self._ring) + 1
                return max(seen + 1, oldest)
        return self.last_id + 1

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

    # WebSocket clients ------------------------------------------------------

    async def _websocket(self, request, ws):
        if not self._enter():
            await ws.close(1013, "too many clients")  # try again later
            return
        self._sockets.append(ws)
        # The keep-alive ends this task when the client stops answering.
        ws._task = asyncio.current_task()
        listener = asyncio.create_task(self._listen(ws))
        try:
            for event, data in self._greeting(request):
                await ws.send(_text(data))
            wanted = self._first(request)
            while not ws.closed:
                if wanted > self.last_id:
                    await self._wait()
                    continue
                wanted = self._catch_up(wanted)
                if wanted < 0:
                    await ws.close(1008, "too far behind")
                    break
                entry = self._ring[wanted % len(self._ring)]
                wanted += 1
                await ws.send(entry[1])
        finally:
            self.clients -= 1
            self._sockets.remove(ws)
            listener.cancel()
        # The listener's read ends before the closing handshake reads.
        await asyncio.sleep(0)

    async def _listen(self, ws):
        from .websocket import WebSocketClosed

        try:
            while True:
                message = await ws.receive()
                if self.on_message is not None:
                    try:
                        result = self.on_message(message)
                        if result is not None:
                            await result
                    except Exception as exc:
                        runtime.log_exception(exc)
        except WebSocketClosed:
            pass
        finally:
            self._wake()  # its writer sees the close at once

    def _greeting(self, request):
        return (self.welcome and self.welcome(request)) or ()


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
            # Sent to this client alone: no id, so its place in the ring stays.
            first = b"retry: %d\n\n" % hub.retry if hub.retry else b""
            for event, data in hub._greeting(self.request):
                first += _event_bytes(_text(data), event, None)
            if first:
                await sink.send(first)
            wanted = hub._first(self.request)
            beats = hub._beats
            while True:
                if wanted <= hub.last_id:
                    wanted = hub._catch_up(wanted)
                    if wanted < 0:
                        return  # too far behind: the stream ends
                    entry = hub._ring[wanted % len(hub._ring)]
                    wanted += 1
                    await sink.send(entry[0])
                elif beats != hub._beats:
                    beats = hub._beats
                    await sink.send(_HEARTBEAT)
                else:
                    await hub._wait()
        finally:
            hub.clients -= 1


def _text(data):
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode()
    return json.dumps(data)


def _event_bytes(text, event, id):
    """One SSE event: every line of the data a data: field (CR, LF and CRLF
    all end a line there). Built in one piece: a board may have no room for
    the copies that joining parts leaves."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in text:
        text = text.replace("\n", "\ndata: ")
    if event and ("\n" in event or "\r" in event):
        raise ValueError("an event name is one line")
    if id is None:
        if event:
            return ("event: %s\ndata: %s\n\n" % (event, text)).encode()
        return ("data: %s\n\n" % text).encode()
    if event:
        return ("id: %d\nevent: %s\ndata: %s\n\n" % (id, event, text)).encode()
    return ("id: %d\ndata: %s\n\n" % (id, text)).encode()
