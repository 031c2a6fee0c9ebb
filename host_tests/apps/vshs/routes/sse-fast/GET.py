# Like the seed's SSE example, but quick: an event every 20 ms (every other
# one without an event name), and a line on stdout once send() has raised.
import asyncio

from VSHS import SSEResponse, get_query


async def default(url, body, route):
    limit = int(get_query(url).get("n", "1000000"))

    async def run(self):
        i = 0
        try:
            while i < limit:
                i += 1
                await self.send({"count": i, "text": "h\u00e9"}, event="tick" if i % 2 else None)
                await asyncio.sleep(0.02)
        except OSError:
            print("sse-fast: client gone after %d events" % i)
            raise

    return SSEResponse(run)
