# The awaitable start: the server runs beside another task, as on a board.
import asyncio

from httpserver import App

app = App()
ticks = []


@app.get("/ticks")
async def get_ticks(request):
    return {"ticks": len(ticks)}


@app.get("/stop")
async def stop(request):
    app.shutdown()
    return "bye"


async def blink():
    while True:
        ticks.append(1)
        await asyncio.sleep(0.05)


async def main():
    task = asyncio.create_task(blink())
    await app.start_server(host="127.0.0.1", port=0)
    task.cancel()
    print("server returned after", len(ticks) > 0)


asyncio.run(main())
