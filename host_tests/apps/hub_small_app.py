# A board's live dashboard at its leanest, for host_tests/test_hub.py: a hub
# with room for eight viewers, and a producer that, once all eight have
# joined, publishes forty small readings (160 bytes: see test_hub.py for why not 600) to them.
import asyncio

from httpserver import App

app = App(max_connections=8)
hub = app.hub("/events", max_clients=8, backlog=4)
PADDING = "x" * 160


async def produce():
    while hub.clients < 8:
        await asyncio.sleep(0.05)
    for i in range(40):
        hub.publish("%d %s" % (i, PADDING))
        await asyncio.sleep(0.01)
    print("published to", hub.clients)


async def main():
    asyncio.create_task(produce())
    await app.start_server(host="127.0.0.1", port=0)


asyncio.run(main())
