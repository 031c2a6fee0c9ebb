# The VSHS seed's start-up program. Only the port changed (from argv, so that
# tests never collide); the pycache line is guarded because on MicroPython
# `sys` is read-only and there is no bytecode cache to move.
import asyncio

# Put the bytecode-cache in the same directory to keep the project clean
import sys

from VSHS import rootDir, startHTTPServer

try:
    sys.pycache_prefix = rootDir() + "/__pycache__"
except AttributeError:
    pass

asyncio.run(
    startHTTPServer(
        hostname="localhost",
        port=int(sys.argv[1]) if len(sys.argv) > 1 else 8080,
        routes="/routes",
        static="/assets",
    )
)
