# The same five routes for uvicorn + starlette (CPython only). Run by run.py as
# python -m uvicorn starlette_app:app --app-dir tools/bench/apps --loop asyncio --http h11 ...
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("Hello, World!")


async def user(request):
    return JSONResponse({"id": request.path_params["id"]})


async def search(request):
    return JSONResponse({"q": request.query_params.get("q", "")})


async def echo(request):
    return JSONResponse(await request.json())


async def mem(request):
    return JSONResponse({"alloc": 0, "free": 0})


app = Starlette(
    routes=[
        Route("/hello", hello),
        Route("/users/{id:int}", user),
        Route("/search", search),
        Route("/echo", echo, methods=["POST"]),
        Route("/mem", mem),
    ]
)
