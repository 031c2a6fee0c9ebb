"""httpserver: an async HTTP/1.1 server for MicroPython boards and CPython.

Only what defines an app is loaded by the import; the server loop, the
parser, StreamingResponse and FileResponse load (and cost heap) when first
used.
"""

from .app import App as App
from .errors import HTTPException as HTTPException
from .errors import abort as abort
from .response import JSONResponse as JSONResponse
from .response import Response as Response

__version__ = "0.1.0"


def __getattr__(name):
    if name == "StreamingResponse":
        from .streaming import StreamingResponse as value
    elif name == "FileResponse":
        from .files import FileResponse as value
    elif name == "Request":
        from .request import Request as value
    else:
        # MicroPython asks this hook before it looks for a submodule, so
        # `from . import runtime` and the like must be answered here.
        try:
            __import__("httpserver." + name)
        except ImportError:
            raise AttributeError(name)
        return globals()[name]
    globals()[name] = value
    return value
