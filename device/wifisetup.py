"""The WiFi setup page, served while the board runs its own access point.

GET /setup shows a form (network name, with the networks a scan found as
suggestions, and password). POST /setup joins that network while the access
point stays up, saves it in config.json once joined and answers with the
board's address there (and http://<hostname>.local/, which the firmware
announces over mDNS); a few seconds later (setup_restart_s, 10) the board
restarts and serves on that network. A network that cannot be joined is
said so, and nothing is saved. That part is in wifijoin.py, loaded only
when the form is sent.

A captive portal, so that a phone opens the page by itself: dnsportal
answers every name with the board's address (on UDP dns_port, 53; 0 turns
it off), and the phones' connectivity checks, any request for another
host and any path the board does not serve redirect to /setup. / does
too; the status page stays at /status. Loaded only in access point mode.
"""

from httpserver import Response


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width,initial-scale=1'><title>WiFi setup</title>"
    "<style>body{font:16px system-ui,sans-serif;max-width:26em;margin:2em auto;padding:0 1em}"
    "input,button{font:inherit;width:100%;padding:.6em;margin:.3em 0 1em;box-sizing:border-box}"
    "button{background:#1f7ae0;color:#fff;border:0;border-radius:6px}</style></head><body>{}</body></html>"
)


_cfg = {}
_found = []
_app = None
_ip = "192.168.4.1"
_names = ()  # the Host values that are the board itself
_dns = None  # the DNS responder's task

# What phones and browsers fetch to learn whether they are online: a 302
# instead of the expected answer makes them show the page it points to.
CHECKS = (
    "/generate_204",  # Android, Chrome
    "/gen_204",
    "/hotspot-detect.html",  # Apple
    "/library/test/success.html",
    "/connecttest.txt",  # Windows
    "/ncsi.txt",
    "/canonical.html",  # Firefox
    "/success.txt",
)


async def _setup_page(request):
    options = "".join("<option value=\"%s\">" % escape(n) for n in _found)
    body = (
        "<h1>WiFi setup</h1><p>%s could not join a network. Enter one to join:</p>"
        "<form method=post action=/setup><label>Network<input name=ssid list=n required "
        "autocapitalize=none></label><datalist id=n>%s</datalist><label>Password"
        "<input name=password type=password></label><button>Join and save</button></form>"
        "<p><a href=/status>Board status</a></p>"
        % (escape(_cfg.get("hostname") or "The board"), options)
    )
    return page(body)


def page(body, status=200):
    return Response(_PAGE.replace("{}", body), status, None, "text/html; charset=utf-8")


async def _save(request):
    # The join and the save are in wifijoin: loaded only when a person
    # submits the form, so the heap holds them only then.
    import wifijoin

    return await wifijoin.save(request, _cfg)


def hostname():
    # What the firmware announces over mDNS: network.hostname(), which
    # wifi.setup() set from config.json's hostname.
    try:
        import network

        return network.hostname()
    except Exception:
        return _cfg.get("hostname") or "board"


def _setup_url():
    port = getattr(_app, "port", 80)
    return "http://%s%s/setup" % (_ip, "" if port in (80, None) else ":%d" % port)


def _redirect(request=None, exc=None):
    return Response(b"", 302, {"Location": _setup_url(), "Cache-Control": "no-store"})


async def _to_setup(request):
    host = request.headers.get("host", "").split(":")[0].lower()
    if request.path == "/" or request.path in CHECKS or (host and host not in _names):
        return _redirect()


async def _start_dns():
    global _dns
    import asyncio

    import dnsportal

    # Kept: CPython's event loop holds its tasks only weakly.
    _dns = asyncio.create_task(dnsportal.serve(_ip, int(_cfg.get("dns_port", 53))))


def add_routes(app, cfg, found=(), ip=None):
    """The setup page and captive portal (access point mode).

    found: network names from a scan, offered as suggestions; ip: the
    board's address on its access point (wifi.ip).
    """
    global _cfg, _found, _app, _ip, _names
    _cfg = cfg
    _found = list(found)
    _app = app
    _ip = ip or _ip
    name = hostname().lower()
    _names = (_ip, name, name + ".local")
    app.route("/setup")(_setup_page)
    app.route("/setup", ["POST"])(_save)
    app.before_request(_to_setup)
    app.errorhandler(404)(_redirect)
    if cfg.get("dns_port", 53):
        app.on_startup(_start_dns)
