"""The status app's part in updates over the air (the work is in
update_receive.py and update.py), loaded by status.run() only when
config.json sets update_token or http_password:

* the routes POST /api/update (a bundle) and /api/update/firmware (ESP32);
* the values app_version (version.txt from the app's bundle) and
  last_update (the last update's outcome) in /api/status and /events;
* on the boot that tries a new version, its confirmation once the app has
  served for update_confirm_s (5) seconds.
"""

import json

import status

_last = None  # the last update's outcome, as last_update shows it


def _read_last():
    global _last
    try:
        with open("update.d/result.json") as f:
            result = json.load(f)
        _last = "%s %s" % (result["version"], result["result"])
    except (OSError, ValueError, KeyError):
        _last = None


def add(app, cfg):
    try:
        with open("version.txt") as f:
            version = f.read().strip()
    except OSError:
        import httpserver

        version = httpserver.__version__
    _read_last()
    status.add_value("app_version", lambda: version, "App version")
    status.add_value("last_update", lambda: _last, "Last update")

    # The bundle streams in (never whole in RAM); update_receive.py loads
    # only when one is posted. The real bounds are the free flash (507) and
    # the OTA partition's size (413).
    async def bundle(request):
        import update_receive

        return await update_receive.handle(request, cfg)

    async def firmware(request):
        import update_receive

        return await update_receive.handle(request, cfg, True)

    app.post("/api/update", stream=True, max_body_size=8 << 20)(bundle)
    app.post("/api/update/firmware", stream=True, max_body_size=8 << 20)(firmware)

    import sys

    update = sys.modules.get("update")  # boot.py switched to a new version: on trial
    if update and update.trial:
        import asyncio

        async def confirm():
            await update.confirm_after(float(cfg.get("update_confirm_s", 5)))
            _read_last()  # the trial's outcome, shown from now on

        # Queued now, run once the server runs: the app must serve that long.
        asyncio.create_task(confirm())
