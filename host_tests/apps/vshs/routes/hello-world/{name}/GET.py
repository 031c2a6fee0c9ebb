async def default(url, body, route):
    return "Hello " + route.vars["name"]
