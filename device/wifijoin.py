"""The setup page's form, submitted: join that network, save it, tell the address.

The board joins with its access point still up, so the person learns the
new address before the access point goes down; the network is saved in
config.json only once joined, then the board restarts (setup_restart_s
later, 10) to serve on it. Loaded by wifisetup only when the form is sent.
"""

import asyncio
import json

import wifisetup


async def save(request, cfg):
    form = request.form()
    ssid = (form.get("ssid") or [""])[0].strip()
    password = (form.get("password") or [""])[0]
    if not ssid:
        return wifisetup.page("<p>The network name is missing. <a href=/setup>Back</a></p>", 400)
    address = await _join(ssid, password, cfg)
    if address is False:
        return _reply(request, {"joined": False, "ssid": ssid}, 400)
    _store(ssid, password)
    delay = float(cfg.get("setup_restart_s", 10))
    print("WiFi: saved network %s, restarting in %s s" % (ssid, delay))
    asyncio.create_task(_restart(delay))
    found = {"joined": address is not None, "ssid": ssid, "ip": address}
    found["url"] = address and "http://%s/" % address
    found["mdns_url"] = "http://%s.local/" % wifisetup.hostname()
    return _reply(request, found)


async def _join(ssid, password, cfg):
    # Joins with the access point still up, so the person learns the new
    # address before it goes down. The address, False when the network
    # cannot be joined, None when there is no network module to try with.
    try:
        import network
    except ImportError:
        return None
    import wifi

    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    print("WiFi: joining %s from the setup page" % ssid)
    try:
        sta.connect(ssid, password)
        left = float(cfg.get("wifi_timeout_s") or 15)
        while not sta.isconnected():
            if left <= 0 or wifi._failed(network, sta):
                raise OSError("no connection")
            await asyncio.sleep(0.25)
            left -= 0.25
    except OSError as exc:
        print("WiFi: could not join %s: %s" % (ssid, exc))
        try:
            sta.disconnect()
        except Exception:
            pass
        return False
    return wifi._address(sta)


def _store(ssid, password):
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


def _reply(request, found, status=200):
    # JSON for a script (Accept: application/json), else the page.
    if "application/json" in request.headers.get("accept", ""):
        return wifisetup.Response(json.dumps(found), status, None, "application/json")
    ssid = wifisetup.escape(found["ssid"])
    if status != 200:
        return wifisetup.page(
            "<h1>Not joined</h1><p>The board could not join %s: check the name and "
            "password. <a href=/setup>Try again</a></p>" % ssid,
            status,
        )
    mdns = _link(found["mdns_url"])
    if found["ip"]:
        there = "its address there is %s (or %s)" % (_link(found["url"]), mdns)
    else:
        there = "its address is shown on the serial console (or try %s)" % mdns
    return wifisetup.page(
        "<h1>Saved</h1><p>The board joins %s; %s. This access point closes in a few "
        "seconds: join %s again and open that address.</p>" % (ssid, there, ssid)
    )


def _link(url):
    url = wifisetup.escape(url)
    return "<a href=%s>%s</a>" % (url, url)


async def _restart(delay):
    await asyncio.sleep(delay)
    try:
        import machine

        machine.reset()
    except Exception:
        print("WiFi: restart the board to join the new network")
