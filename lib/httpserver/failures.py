# What an app answers when a request fails: the error handler it chose for
# the error, or the default JSON error. Loaded with the first failure: on a
# board every line of loaded code costs heap, and most requests succeed.
from . import runtime
from .response import HTTPException, coerce, error_response


class InvalidBody(ValueError):
    """A request body that cannot be read as asked (invalid JSON or UTF-8).

    A ValueError, as json raises, so that `except ValueError` in a handler
    catches it; uncaught, it answers 400 like HTTPException(400). It cannot
    also be an HTTPException: MicroPython does not allow two exception bases.
    """

    status_code = 400
    headers = None
    message = property(str)  # as HTTPException's; no __init__ to load


def _handler_for(app, exc, status):
    # An HTTP error goes to its status's handler first. The catch-alls
    # (Exception, BaseException) take unexpected errors only: they must
    # not turn a 404 into a 500.
    handler = app._code_handlers.get(status)
    if handler is not None:
        return handler
    best = None
    for cls, handler in app._class_handlers:
        if (
            isinstance(exc, cls)
            and (best is None or issubclass(cls, best[0]))
            and (status is None or cls is HTTPException or not issubclass(HTTPException, cls))
        ):
            best = (cls, handler)
    if best is not None:
        return best[1]
    return app._code_handlers.get(500) if status is None else None


async def handle_error(app, request, exc):
    """The response for an exception raised while handling request: its
    error handler's, or the default JSON error."""
    # An HTTP error has a status; None for anything unexpected.
    status = exc.status_code if isinstance(exc, (HTTPException, InvalidBody)) else None
    if status is None:
        runtime.log_exception(exc)
    handler = _handler_for(app, exc, status)
    if handler is not None:
        try:
            response = coerce(await runtime.call(handler, request, exc))
            if status is not None and exc.headers:
                for name, value in exc.headers.items():
                    response.headers.setdefault(name, value)
            return response
        except MemoryError:
            raise
        except Exception as error:
            runtime.log_exception(error)
            exc = error
            status = exc.status_code if isinstance(exc, (HTTPException, InvalidBody)) else None
    if status is None:
        exc = HTTPException(500)
    return error_response(exc)
