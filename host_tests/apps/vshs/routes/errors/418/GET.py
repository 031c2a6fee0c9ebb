# Error responses for code 418 are written here; body is the error message.
async def default(url, body, route):
    return "I'm a teapot: " + body + " (" + url.path + ")"
