"""The WiFi setup page, served while the board runs its own access point.

GET /setup shows a form (network name, with the networks a scan found as
suggestions, and password); POST /setup saves them in config.json and
restarts the board, which then joins that network. / redirects to /setup;
the status page stays at /status. Loaded only in access point mode.
"""

import asyncio
import json


def _html(text):
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


async def _setup_page(request):
    options = "".join("<option value=\"%s\">" % _html(n) for n in _found)
    body = (
        "<h1>WiFi setup</h1><p>%s could not join a network. Enter one to join:</p>"
        "<form method=post action=/setup><label>Network<input name=ssid list=n required "
        "autocapitalize=none></label><datalist id=n>%s</datalist><label>Password"
        "<input name=password type=password></label><button>Save and restart</button></form>"
        "<p><a href=/status>Board status</a></p>"
        % (_html(_cfg.get("hostname") or "The board"), options)
    )
    return _response(body)


def _response(body, status=200):
    from httpserver import Response

    return Response(_PAGE.replace("{}", body), status, None, "text/html; charset=utf-8")


async def _save(request):
    form = request.form()
    ssid = (form.get("ssid") or [""])[0].strip()
    password = (form.get("password") or [""])[0]
    if not ssid:
        return _response("<p>The network name is missing. <a href=/setup>Back</a></p>", 400)
    try:
        with open("config.json") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        cfg = {}
    cfg["wifi_ssid"] = ssid
    cfg["wifi_password"] = password
    import os

    with open("config.json.new", "w") as f:
        json.dump(cfg, f)
    os.rename("config.json.new", "config.json")
    print("WiFi: saved network %s, restarting" % ssid)
    asyncio.create_task(_restart())
    return _response(
        "<h1>Saved</h1><p>The board restarts and joins %s. Its address is shown "
        "on the serial console (or try http://%s.local/).</p>"
        % (_html(ssid), _html(_cfg.get("hostname") or "board"))
    )


async def _restart():
    await asyncio.sleep(1.5)
    try:
        import machine

        machine.reset()
    except Exception:
        print("WiFi: restart the board to join the new network")


async def _to_setup(request):
    if request.path == "/":
        from httpserver import Response

        return Response(b"", 302, {"Location": "/setup"})


def add_routes(app, cfg, found=()):
    """The setup page (access point mode): /setup, and / redirects there.

    found: network names from a scan, offered as suggestions.
    """
    global _cfg, _found
    _cfg = cfg
    _found = list(found)
    app.route("/setup")(_setup_page)
    app.route("/setup", ["POST"])(_save)
    app.before_request(_to_setup)
