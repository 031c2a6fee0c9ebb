# Runs a picohttp program exactly as written, but on the port given as the
# first argument (0: any free port), so that tests never collide on 8080.
#   python picohttp_run.py PORT PROGRAM.py
import sys

import picohttp

_PORT = int(sys.argv[1])
_HttpServer = picohttp.HttpServer


class _OnTestPort(_HttpServer):
    def __init__(self, port, *args, **kwargs):
        _HttpServer.__init__(self, _PORT, *args, **kwargs)


picohttp.HttpServer = _OnTestPort
with open(sys.argv[2]) as program:
    source = program.read()
exec(source, {"__name__": "__main__", "__file__": sys.argv[2]})
