"""The status page's live values (status.py's /events and LED switch):
one producer reads the probes once per interval, while anyone watches, and
publishes the reading to every viewer through one hub (httpserver.hub),
however many there are. A viewer that falls behind skips to the latest
reading, and one that stalls is closed. A switch of the LED is published at
once, as a new reading, through the same hub: every open page shows it.

Loaded with the first viewer (or LED switch), not at start-up: on an ESP32
without PSRAM the status app, with this loaded, had no heap left to serve
its page.
"""

import asyncio
import sys

import status
from httpserver import runtime
from httpserver.hub import Hub

_published = None  # ticks_ms of the latest reading published


def _publish():
    # One reading, to every viewer; the hub keeps it (as an SSE event, the
    # one copy) for whoever joins next.
    global _published
    _published = runtime.ticks_ms()
    hub.publish(status.read())  # as JSON, encoded once by the hub


def _welcome(request):
    # What a new viewer gets first: the page's field list (app values,
    # labels, units) and the interval. The latest reading follows (the
    # hub's replay), published now if there is none from this interval.
    interval = status.interval
    if _published is None or runtime.ticks_diff(runtime.ticks_ms(), _published) >= interval * 1000:
        _publish()
    extra = [[key, label, unit] for key, label, unit, _ in status._extra]
    return (("fields", {"interval": interval, "extra": extra}),)


async def _produce():
    # The one reader of the probes for every viewer: once per interval, and
    # only while someone watches.
    while True:
        await asyncio.sleep(status.interval)
        if hub.clients:
            _publish()


def set_led(on):
    """Switch the page's LED (the board's LED where the config names one);
    every viewer gets a new reading with it at once."""
    on = status._led = bool(on)
    wifi = sys.modules.get("wifi")
    if wifi is not None and getattr(wifi, "_led", None) is not None:
        wifi._led.set(on)
    global _published
    if hub.clients:
        _publish()
    else:
        _published = None  # the latest reading has the old state: not for the next viewer
    return on


def _control(message):
    # A WebSocket viewer's command: "led on", "led off" or "led" (toggle).
    if message in ("led", "led on", "led off"):
        set_led(message == "led on" or (message == "led" and not status._led))


# Backlog 1: a viewer that falls behind needs only the latest reading, and a
# new one gets it first (replay). No keep-alive beats: a reading every
# interval keeps the streams busy, and a viewer that has gone is found out by
# the next one.
hub = Hub(max_clients=4, backlog=1, replay=1, keepalive=0, welcome=_welcome, on_message=_control)
_producer = asyncio.create_task(_produce())


@status.app.on_shutdown
async def _stop_producer():
    _producer.cancel()
