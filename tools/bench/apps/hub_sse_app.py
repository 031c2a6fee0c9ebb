# Messages per second through a hub (tools/bench/sse.py), on MicroPython and CPython.
# Usage: <python> hub_sse_app.py PORT CLIENTS
# Once CLIENTS viewers have joined /events, a producer publishes a small
# reading as often as the loop lets it; what each viewer gets is counted by
# the benchmark (a viewer that falls more than the backlog behind skips).
import asyncio
import sys

from httpserver import App

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 1
app = App(max_connections=16)
hub = app.hub("/events", max_clients=clients, backlog=16, keepalive=0)
READING = '{"temp_c": 21.5, "heap_free": 81234, "uptime_s": 12345, "rssi_dbm": -61}'


async def produce():
    while hub.clients < clients:
        await asyncio.sleep(0.01)
    while True:
        hub.publish(READING)
        # Each viewer's writer runs before the next message: the rate is
        # the loop's, not the publisher's.
        await asyncio.sleep(0)


async def main():
    asyncio.create_task(produce())
    await app.start_server(host="127.0.0.1", port=port)


asyncio.run(main())
