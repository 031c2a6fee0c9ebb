class HTTPException(Exception):
    """An error that becomes an HTTP response with the given status.

    Raise it (or call abort) anywhere in a handler or hook. message defaults
    to the status's reason phrase; headers are sent with the error response,
    for example Allow with a 405.
    """

    def __init__(self, status_code, message=None, headers=None):
        if not message:
            # Loaded with the server, so this costs nothing while serving.
            from .protocol import reason

            message = reason(status_code) or "Error"
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


class InvalidBody(ValueError):
    """A request body that cannot be read as asked (invalid JSON or UTF-8).

    A ValueError, as json raises, so that `except ValueError` in a handler
    catches it; uncaught, it answers 400 like HTTPException(400). It cannot
    also be an HTTPException: MicroPython does not allow two exception bases.
    """

    status_code = 400
    headers = None
    message = property(str)  # as HTTPException's; no __init__ to load


def abort(status_code, message=None):
    raise HTTPException(status_code, message)
