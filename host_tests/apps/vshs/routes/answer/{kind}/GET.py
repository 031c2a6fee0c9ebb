from VSHS import Blob, MultiDict


async def default(url, body, route):
    kind = route.vars["kind"]
    if kind == "str":
        return "plain text"
    if kind == "bytes":
        return b"\x00\x01\x02"
    if kind == "blob":
        return Blob("<svg/>", type="image/svg+xml")
    if kind == "multidict":
        return MultiDict([("a", "1"), ("a", "2"), ("b", "x y")])
    if kind == "list":
        return [1, "two", None]
    if kind == "none":
        return None
    if kind == "url":
        return {
            "path": url.path,
            "query_string": url.query_string,
            "str": str(url),
            "route": route.path,
        }
    raise ValueError("unknown kind " + kind)
