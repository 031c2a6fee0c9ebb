"""httpserver: an async HTTP/1.1 server for MicroPython boards and CPython.

StreamingResponse and FileResponse live in their own modules and are only
loaded (and only cost heap) when an app first uses them.
"""
from .app import App
from .errors import HTTPException, abort
from .request import Request
from .response import JSONResponse, Response

__version__ = "0.1.0"

_LAZY = {"StreamingResponse": "streaming", "FileResponse": "files"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    if module == "streaming":
        from .streaming import StreamingResponse as value
    else:
        from .files import FileResponse as value
    globals()[name] = value
    return value
