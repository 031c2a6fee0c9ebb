"""Messages per second that a hub (httpserver.hub) delivers to 1 and 8 SSE
viewers, on the MicroPython unix port (the package compiled with mpy-cross)
and on CPython.

    python tools/bench/sse.py [--seconds 3] [--only micropython|cpython]

The server (apps/hub_sse_app.py) publishes a 75-byte reading as fast as its
loop allows once every viewer has joined; the viewers are raw sockets in
this process, read with one selector, and count the events they receive
(by their `id:` lines) for the given time after a short warm-up. Delivered
is the sum over the viewers; skipped counts the ids a viewer never got
(it fell more than the hub's backlog behind). run.py calls measure() and
render() for its report.
"""

import argparse
import os
import selectors
import shutil
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import Env, Server  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
APP = os.path.join(HERE, "apps", "hub_sse_app.py")
CLIENTS = (1, 8)
WARM_UP = 0.5


def count_events(port, clients, seconds):
    """(events delivered per second in all, ids skipped) over `seconds`."""
    selector = selectors.DefaultSelector()
    viewers = []
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        sock.setblocking(False)
        viewer = {"sock": sock, "tail": b"", "ids": [], "count": 0}
        selector.register(sock, selectors.EVENT_READ, viewer)
        viewers.append(viewer)
    start = time.monotonic()
    counting = False
    end = start + WARM_UP + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if not counting and now >= start + WARM_UP:
            counting = True
            for viewer in viewers:
                viewer["count"] = 0
                viewer["ids"] = []
        for key, _ in selector.select(0.1):
            viewer = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                raise RuntimeError("the server closed a viewer")
            data = viewer["tail"] + chunk
            at = data.find(b"\nid: ")
            while at >= 0:
                stop = data.find(b"\n", at + 5)
                if stop < 0:
                    break
                viewer["count"] += 1
                viewer["ids"].append(int(data[at + 5 : stop]))
                at = data.find(b"\nid: ", stop)
            viewer["tail"] = data[at:] if at >= 0 else data[-4:]
    skipped = 0
    for viewer in viewers:
        ids = viewer["ids"]
        if ids:
            skipped += (ids[-1] - ids[0] + 1) - len(ids)
        selector.unregister(viewer["sock"])
        viewer["sock"].close()
    delivered = sum(v["count"] for v in viewers)
    return delivered / seconds, skipped


def measure(seconds=3.0, only=None, env=None):
    """{runtime: {clients: (delivered per second, skipped)}}; env is run.py's
    (its MicroPython and its build of the package), else one made here."""
    own = env is None
    if own:
        env = Env(argparse.Namespace(httpserver_path=os.path.join(REPO, "lib")))
    results = {}
    try:
        runtimes = []
        if only != "cpython" and env.mp and env.mpy_cross:
            if "httpserver" not in env.build:
                env.compile("httpserver", env.hs_src, "httpserver")
            runtimes.append(("micropython", [env.mp], env.mp_env("httpserver")))
        if only != "micropython":
            runtimes.append(("cpython", [sys.executable], env.py_env("httpserver")))
        for name, command, environment in runtimes:
            results[name] = {}
            for clients in CLIENTS:
                argv = command + [APP, "{port}", str(clients)]
                server = Server("hub/%s" % name, argv, env=environment, cpu=1, cwd=env.cwd)
                try:
                    if not server.wait_ready():
                        raise RuntimeError(server.output())
                    results[name][clients] = count_events(server.port, clients, seconds)
                finally:
                    server.stop()
    finally:
        if own:
            shutil.rmtree(env.tmp, ignore_errors=True)
    return results


def render(results):
    lines = [
        "**Live dashboards: SSE events per second through a hub** (a 75-byte reading,"
        " published as fast as the loop allows; delivered = sum over the viewers)",
        "",
        "| | 1 viewer | 8 viewers (in all) | 8 viewers (each) | skipped (8 viewers) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, by_clients in results.items():
        one = by_clients.get(1, (0, 0))[0]
        eight, skipped = by_clients.get(8, (0, 0))
        lines.append(
            "| %s | %s | %s | %s | %s |"
            % (
                "MicroPython (.mpy)" if name == "micropython" else "CPython",
                format(round(one), ","),
                format(round(eight), ","),
                format(round(eight / 8), ","),
                format(skipped, ","),
            )
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="counted time per cell")
    parser.add_argument("--only", choices=["micropython", "cpython"])
    args = parser.parse_args()
    print(render(measure(args.seconds, args.only)))


if __name__ == "__main__":
    main()
