"""The board's live status pages, on httpserver.

Routes: ``/`` the page (www/index.html.gz, one small file), ``/api/status``
all values as JSON (null for what the platform cannot tell), ``/events`` the
same values as Server-Sent Events (or WebSocket messages) every couple of
seconds, and ``POST /api/led`` the page's LED switch.

The live values come from one producer: every interval, while anyone is
watching, the probes are read once and the reading is published to all the
viewers through one hub (httpserver.hub), however many there are; a viewer
that falls behind skips to the latest reading, and one that stalls is
closed. A switch of the LED is published at once, as a new reading, through
the same hub: every open page shows it.

With update_token or http_password in config.json, updates over the air
too (webupdate.py).

Add your own value and route in a few lines, in main.py before run()::

    import status
    from machine import ADC

    soil = ADC(26)

    @status.value("soil_pct", "Soil moisture", "%")
    def soil_pct():
        return soil.read_u16() * 100 // 65535

    @status.app.post("/api/pump")
    async def pump(request):
        return {"pumping": True}

    status.run()

The value appears on the page (in an "App" card), in /api/status and in
/events; a value function that raises gives null, like a built-in value,
and its first error is printed (the key and the exception).
The values themselves come from the probe module (see probe.py).
"""

import asyncio
import gc
import json
import sys

# The server's code first, while the heap is emptiest: a board's heap has
# room for it in whole blocks now, and perhaps not after Wi-Fi has joined.
import httpserver.server  # noqa: F401
import probe as _probe
from httpserver import App, Response, runtime

HTML = "text/html; charset=utf-8"
CONFIG = "config.json"

cfg = {}  # the board config (config.json), loaded by run() or load_config()
interval = 2  # seconds between events

app = App()

_extra = []  # (key, label, unit, function) added with value()
_failed = []  # keys of app values that raised (each is logged once)
_probe_obj = None
_requests = 0  # responses produced
_inflight = 0  # requests being handled
_led = False  # the page's LED switch (live.set_led switches it)

_HERE = globals().get("__file__", "")  # where www/ is: beside this module, else in the cwd
_HERE = _HERE.rsplit("/", 1)[0] + "/" if "/" in _HERE else ""


def load_config(path=CONFIG):
    """The board config as a dict ({} when the file is missing or unreadable)."""
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except OSError:
        return {}
    except ValueError:
        print("status: %s is not valid JSON, ignoring it" % path)
        return {}


def value(key, label=None, unit=""):
    """Decorator: add the function's result to the status values as key."""

    def register(function):
        add_value(key, function, label, unit)
        return function

    return register


def add_value(key, function, label=None, unit=""):
    """Add a value: function() is called at every reading (keep it quick)."""
    for i, item in enumerate(_extra):
        if item[0] == key:
            del _extra[i]
            break
    _extra.append((key, label or key.replace("_", " "), unit, function))


def probe():
    """The platform's probe (made on first use, with cfg)."""
    global _probe_obj
    if _probe_obj is None:
        _probe_obj = _probe.get(cfg)
    return _probe_obj


def read():
    """All values: the probe's, the server's counters, then the app's own."""
    data = probe().read()
    data["requests"] = _requests
    live = sys.modules.get("live")  # loaded with the first viewer
    data["connections"] = _inflight + (live.hub.clients if live else 0)
    data["led"] = _led
    for key, _label, _unit, function in _extra:
        try:
            data[key] = function()
        except MemoryError:
            raise
        except Exception as e:
            data[key] = None
            if key not in _failed:  # once, not at every reading
                _failed.append(key)
                print("status: value %s failed: %s: %s" % (key, type(e).__name__, e))
    return data


@app.get("/events")
async def events(request):
    """The live values, over SSE or (an upgrade) WebSocket: live.py, loaded
    with the first viewer."""
    import live

    return await live.hub.join(request)


@app.before_request
async def _count_in(request):
    global _inflight
    _inflight += 1


@app.after_request
async def _count_out(request, response):
    global _inflight, _requests
    _inflight -= 1
    _requests += 1


def _page_file(name):
    for path in (_HERE + "www/" + name, "www/" + name):
        try:
            open(path, "rb").close()
            return path
        except OSError:
            pass
    return None


_pages = None  # (gzipped, plain) paths of the page, looked for once


@app.get("/")
@app.get("/status")
async def index(request):
    global _pages
    if _pages is None:
        # The files change only with a deploy or an update, and both
        # restart the app: no open() per page on a board's flash.
        _pages = _page_file("index.html.gz"), _page_file("index.html")
    gz, plain = _pages
    # Loaded with the first page, not at start: in setup mode the page is
    # never asked for (it redirects to /setup), and the heap is tight there.
    from httpserver.files import FileResponse, conditional, takes_gzip  # a reload is a 304

    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if gz and (not plain or takes_gzip(request.headers.get("accept-encoding"))):
        # Every browser takes gzip. The board keeps only the gzipped page,
        # so a client that does not accept it still gets it there.
        headers["Content-Encoding"] = "gzip"
        return conditional(request, FileResponse(gz, 200, headers, HTML))
    if plain:
        return conditional(request, FileResponse(plain, 200, headers, HTML))
    return Response("status page missing: www/index.html.gz\n", 404)


@app.get("/api/status")
async def api_status(request):
    data = json.dumps(read()).encode()
    return Response(data, 200, {"Cache-Control": "no-cache"}, "application/json")


@app.post("/api/led")
async def led(request):
    """Switch the LED: {"on": true|false} sets it, no body toggles it."""
    body = request.json() if request.body else None
    on = body.get("on") if isinstance(body, dict) and "on" in body else not _led
    import live

    return {"on": live.set_led(on)}


def _args(argv):
    # --port N --host H --interval S --config PATH (no argparse on a board)
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("-h", "--help"):
            print("usage: main.py [--port 8000] [--host 127.0.0.1] [--interval 2] [--config FILE]")
            raise SystemExit(0)
        if not a.startswith("--"):
            continue  # whatever a launcher left in argv
        if "=" in a:
            k, v = a[2:].split("=", 1)
        elif i < len(argv):
            k, v = a[2:], argv[i]
            i += 1
        else:
            raise SystemExit("main.py: %s needs a value" % a)
        opts[k] = v
    return opts


async def _housekeeping():
    # Keeps the probe's uptime wrap-safe even when nobody is looking.
    while True:
        await asyncio.sleep(60)
        probe().read()


async def _serve(host, port, wifi):
    server = asyncio.create_task(app.start_server(host=host, port=port))
    await app.listening()
    if host in ("0.0.0.0", ""):
        # The server announced the address it bound to; this is the one to open.
        print("Serving on http://%s:%d/" % (wifi and wifi.ip or "127.0.0.1", app.port))
    if wifi:
        wifi.start()
    chores = asyncio.create_task(_housekeeping())
    try:
        await server
    finally:
        chores.cancel()


def _protect():
    if cfg.get("http_password"):
        # Off unless config.json sets a password: then every page and API asks for it.
        import password

        password.protect(app, cfg)


def run(argv=None):
    """Start the status server: what main.py does.

    On a board (and the virtual board): reads config.json, joins WiFi (or
    opens the setup access point), shows the state on the LED, serves on
    0.0.0.0 at cfg["http_port"] (80) and prints the URL with the board's IP.
    On CPython: serves a simulated board on --host/--port (127.0.0.1:8000);
    --config FILE reads a board config there too.
    """
    global cfg, interval
    opts = _args(sys.argv[1:] if argv is None else argv)
    cpython = not runtime.MICROPYTHON  # a desktop: a simulated board
    if "config" in opts or not cpython:
        cfg = load_config(opts.get("config", CONFIG))
    if cfg.get("update_token") or cfg.get("http_password"):
        import webupdate  # off unless a secret is set: every line here costs heap

        webupdate.add(app, cfg)
    iv = opts.get("interval", cfg.get("status_interval_s"))
    if iv is not None:
        iv = float(iv)
        interval = int(iv) if iv == int(iv) else iv
    if cpython:
        host = opts.get("host", "127.0.0.1")
        if host not in ("0.0.0.0", "::", ""):
            cfg.setdefault("ip", host)
        _protect()
        probe()
        app.run(host=host, port=int(opts.get("port", 8000)))
        return
    try:
        import network  # noqa: F401  (absent on a plain unix port)
        import wifi
    except ImportError:
        wifi = None
    if wifi:
        wifi.setup(cfg)  # at once if boot.py did it already
        if wifi.mode == "ap":
            import wifisetup

            wifisetup.add_routes(app, cfg, wifi._found, wifi.ip)
    # After the setup portal's redirect: a phone's connectivity check must
    # get the 302 that opens the portal, not a 401; /setup itself still asks.
    _protect()
    if cfg.get("max_connections"):
        app.max_connections = int(cfg["max_connections"])
    probe()
    host = opts.get("host", "0.0.0.0")
    port = cfg.get("http_port")
    port = int(opts.get("port", 80 if port is None else port))
    gc.collect()
    try:
        asyncio.run(_serve(host, port, wifi))
    except KeyboardInterrupt:
        pass


def main(argv=None):
    """What main.py runs: run(), with a mistake on the command line, a busy
    port or a port it may not use told in one line and the usage (cli.py,
    loaded only when there is something to say: on a board every name
    costs heap)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        import cli

        cli.check(argv)
    try:
        run(argv)
    except OSError as e:
        import cli

        cli.explain(e)
