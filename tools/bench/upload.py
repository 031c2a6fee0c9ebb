#!/usr/bin/env python3
"""Upload throughput on MicroPython: KB/s for a 1 MB upload (Content-Length),
httpserver's streamed request body (a stream=True route saving it with
uploads.save) against microdot 2.7.0's request.stream (a body over
Request.max_body_length, read in 2048-byte pieces and written), same run.

    python tools/bench/upload.py [--runs 5] [--size 1048576]

Both libraries are compiled with mpy-cross and run by the unix port with its
default heap, the server pinned to one core; the client sends the body in
64 KiB writes and times the request from its first byte to the response.
Each library's file is checked to hold the body. run.py calls measure().

The two do not save alike: uploads.save writes a new file and renames it over
the previous one (a cut upload leaves the old file), microdot's app overwrites
the file in place. Measured on the unix port, that is most of the difference:
with httpserver writing in place too (Body.readinto into one 2K buffer), the
ratio was 0.97x against 0.8x with save().
"""

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import APPS, LIBS, REPO, Env, Server, log, recv_response  # noqa: E402

APP = {"httpserver": "hs_upload_app.py", "microdot": "md_upload_app.py"}
SAVED = {"httpserver": "hs.bin", "microdot": "md.bin"}


def upload_once(port, body):
    """Seconds for one POST /upload of body, and the response's JSON."""
    head = b"POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: %d\r\n\r\n" % len(body)
    view = memoryview(body)
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for at in range(0, len(body), 65536):
            sock.sendall(view[at : at + 65536])
        status, reply = recv_response(sock)
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError("upload answered %s: %r" % (status, reply[:200]))
    return elapsed, json.loads(reply)


def measure(env, libs=("httpserver", "microdot"), runs=5, size=1048576):
    """{lib: {"kbps": median KB/s, "runs": [...]}} for the libraries built in env."""
    body = os.urandom(size)
    results = {}
    folder = tempfile.mkdtemp(prefix="upload-", dir=env.tmp)
    servers = {}
    try:
        for lib in libs:
            argv = [env.mp, os.path.join(APPS, APP[lib]), "{port}", folder]
            servers[lib] = Server(lib + "/upload", argv, env=env.mp_env(lib), cpu=1, cwd=env.cwd)
            if not servers[lib].wait_ready():
                raise RuntimeError("%s did not start:\n%s" % (lib, servers[lib].output()))
        rates = {lib: [] for lib in libs}
        for _ in range(runs):  # alternating, so that both see the same machine
            for lib in libs:
                elapsed, reply = upload_once(servers[lib].port, body)
                if reply.get("saved") != size:
                    raise RuntimeError("%s saved %r" % (lib, reply))
                with open(os.path.join(folder, SAVED[lib]), "rb") as file:
                    if file.read() != body:
                        raise RuntimeError("%s saved other bytes than were sent" % lib)
                rates[lib].append(round(size / 1024 / elapsed))
        for lib in libs:
            results[lib] = {"kbps": statistics.median(rates[lib]), "runs": rates[lib]}
    finally:
        for server in servers.values():
            server.stop()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=1048576)
    args = ap.parse_args()
    env = Env(argparse.Namespace(httpserver_path=os.path.join(REPO, "lib")))
    if not (env.mp and env.mpy_cross and env.md_src):
        sys.exit("needs micropython, mpy-cross and microdot==2.7.0 (see tools/bench/README.md)")
    try:
        env.compile("httpserver", env.hs_src, LIBS["httpserver"][1])
        env.compile("microdot", env.md_src, LIBS["microdot"][1])
        log("uploading %d bytes, %d runs each" % (args.size, args.runs))
        results = measure(env, runs=args.runs, size=args.size)
    finally:
        import shutil

        shutil.rmtree(env.tmp, ignore_errors=True)
    h, m = results["httpserver"]["kbps"], results["microdot"]["kbps"]
    print("| 1 MB upload, KB/s (MicroPython) | httpserver | microdot %s | ratio |" % env.md_version)
    print("|---|---:|---:|---:|")
    print("| Content-Length, saved to a file | %d | %d | %.2f× |" % (h, m, h / m))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
