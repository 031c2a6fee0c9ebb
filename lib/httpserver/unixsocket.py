# Serving on a Unix domain socket (App.run(socket=PATH)), as the runtime's
# listen() serves on TCP. Loaded only when socket= is given. It needs the
# event loop's create_unix_server, which MicroPython lacks: there it says so. (It is
# copied to boards for that message; it costs no heap unless imported.)
import asyncio
import os

_SOCKET = 0o140000  # stat's S_IFSOCK
_FILE_TYPE = 0o170000  # stat's S_IFMT
# A Unix socket has no peer address; handlers still get a (host, port) pair.
NO_ADDRESS = ("unknown", 0)


class _UnixListener:
    """The asyncio server, and the socket file removed when it closes."""

    def __init__(self, server, path):
        self.server = server
        self.path = path

    def close(self):
        self.server.close()
        _remove_socket(self.path)

    async def wait_closed(self):
        await self.server.wait_closed()


def _file_type(path):
    try:
        return os.stat(path)[0] & _FILE_TYPE
    except OSError:
        return None  # nothing there


def _remove_socket(path):
    if _file_type(path) == _SOCKET:
        try:
            os.unlink(path)
        except OSError:
            pass


async def listen_unix(protocol, path, backlog, ssl=None):
    """Listen on the Unix socket at path, readable by its owner only;
    protocol() makes each connection's asyncio protocol.

    Returns (listener, "unix:" + path). A socket file left by an earlier
    run is replaced; any other file there is an error.
    """
    create = getattr(asyncio.get_event_loop(), "create_unix_server", None)
    if create is None:
        raise NotImplementedError("serving on a Unix socket (socket=) needs CPython")
    path = str(path)
    kind = _file_type(path)
    if kind is not None and kind != _SOCKET:
        raise OSError("not a socket, not replaced: %s" % path)
    _remove_socket(path)
    # Created with no permission for others at all, so no client can
    # connect before the mode is set.
    mask = os.umask(0o177)
    try:
        server = await create(protocol, path, backlog=backlog, ssl=ssl)
    finally:
        os.umask(mask)
    os.chmod(path, 0o600)
    return _UnixListener(server, path), "unix:" + path
