"""httpserver: an async HTTP/1.1 server for MicroPython boards and CPython.

Only what defines an app is loaded by the import; the server loop, the
parser, StreamingResponse and FileResponse load (and cost heap) when first
used.
"""

from .app import App as App
from .response import HTTPException as HTTPException
from .response import JSONResponse as JSONResponse
from .response import Response as Response
from .response import abort as abort

__version__ = "0.1.0"

if False:  # for type checkers only: MicroPython's compiler drops the block
    from .files import FileResponse as FileResponse
    from .request import Request as Request
    from .streaming import StreamingResponse as StreamingResponse


def __getattr__(name):
    # MicroPython asks this hook for `from . import runtime` before it looks for
    # the submodule, and dir() asks it for every interned name: so only these
    # names import anything, and a failed import is reported as it is.
    if name == "StreamingResponse":
        from .streaming import StreamingResponse as value
    elif name == "FileResponse":
        from .files import FileResponse as value
    elif name == "Request":
        from .request import Request as value
    elif name == "runtime":
        value = __import__("httpserver.runtime").runtime
    else:
        raise AttributeError(name)
    globals()[name] = value
    return value
