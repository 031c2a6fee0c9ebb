"""The setup portal on its own: wifisetup's routes in setup mode, with the
DNS responder on loopback. Runs on CPython and MicroPython, with device/ and
the virtual board's stand-ins (network, machine) on the path.

usage: portal_app.py DNS_PORT [CONFIG_JSON]
"""

import asyncio
import json
import sys

import dnsportal
import wifisetup
from httpserver import App

cfg = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
cfg["dns_port"] = 0  # started below, on loopback only, rather than on 0.0.0.0
app = App()
if cfg.get("hostname"):  # as wifi.setup() does on a board: the name mDNS announces
    import network

    network.hostname(cfg["hostname"])
refused = cfg.get("refuse_ssid")
if refused:  # the stand-in joins any network: this one now fails as a wrong password would
    import network

    joins = network.WLAN.connect

    def connect(self, ssid=None, key=None, **kwargs):
        joins(self, ssid, key)
        if ssid == refused:
            self._connected = False
            self._status = network.STAT_WRONG_PASSWORD

    network.WLAN.connect = connect


@app.get("/status")
async def status(request):
    return "the board's own page"


@app.on_startup
async def dns():
    global task
    task = asyncio.create_task(dnsportal.serve("127.0.0.1", int(sys.argv[1]), "127.0.0.1"))


wifisetup.add_routes(app, cfg, ["home"], "127.0.0.1")
app.run(host="127.0.0.1", port=0)
