from VSHS import HTTPError


async def default(url, body, route):
    raise HTTPError(418, "short and stout")
