class HTTPException(Exception):
    """An error that becomes an HTTP response with the given status.

    Raise it (or call abort) anywhere in a handler or hook. headers are sent
    with the error response, for example Allow with a 405.
    """

    def __init__(self, status_code, message=None, headers=None):
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message
        self.headers = headers

    def __str__(self):
        if self.message is not None:
            return str(self.message)
        from .protocol import reason

        return reason(self.status_code) or "HTTP error %d" % self.status_code


def abort(status_code, message=None):
    raise HTTPException(status_code, message)
