from VSHS import Blob


async def default(url, body, route):
    if body is None:
        return {"type": "None"}
    if isinstance(body, Blob):
        return {"type": "Blob", "mime": body.type, "text": await body.text(), "size": body.size}
    if isinstance(body, bytes):
        return {"type": "bytes", "value": list(body)}
    return {"type": type(body).__name__, "value": body}
