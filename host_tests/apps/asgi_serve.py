# Serve an app module's `app` under uvicorn instead of App.run, for the
# ASGI tests: python asgi_serve.py MODULE [--certfile C --keyfile K] [--http h11|httptools]
#
# The module may call app.run() at import (behaviour_app.py does): that call
# is turned into a no-op here. The listening socket is bound before uvicorn
# starts so that port 0 works and the fixture's "Serving on" line is exact.
import argparse
import importlib
import socket
import sys

import httpserver
import uvicorn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("module")
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    parser.add_argument("--ws", default="auto")
    # h11 by default, whatever else is installed: httptools spells header
    # names in lowercase and chunks HTTP/1.0 responses, which some checks see.
    parser.add_argument("--http", default="h11")
    options = parser.parse_args()

    httpserver.App.run = lambda self, *args, **kwargs: None
    sys.argv = sys.argv[:1]
    app = importlib.import_module(options.module).app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=1,
        lifespan="on",
        http=options.http,
        ws=options.ws,
        ssl_certfile=options.certfile,
        ssl_keyfile=options.keyfile,
        timeout_graceful_shutdown=2,
    )
    scheme = "https" if options.certfile else "http"
    print("Serving on %s://127.0.0.1:%d/" % (scheme, sock.getsockname()[1]), flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
