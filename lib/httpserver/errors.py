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


def abort(status_code, message=None):
    raise HTTPException(status_code, message)


def __getattr__(name):
    # InvalidBody is defined where it is handled, and loads with the first
    # body that cannot be read: a class costs a board heap.
    if name == "InvalidBody":
        from .failures import InvalidBody

        return InvalidBody
    raise AttributeError(name)
