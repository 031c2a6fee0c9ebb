"""The status app's update routes (the work is in update_receive.py): POST
/api/update (a bundle) and /api/update/firmware (ESP32). Added by
status.run() when config.json sets update_token or http_password, except
in setup mode, where the heap is tight.
"""


def add_routes(app, cfg):
    # The bundle streams in (never whole in RAM); streamed routes load
    # httpserver/uploads.py, so only a board with updates on pays that heap,
    # and update_receive.py loads only when one is posted. The real bounds are the
    # free flash (507) and the OTA partition's size (413).
    async def bundle(request):
        import update_receive

        return await update_receive.handle(request, cfg)

    async def firmware(request):
        import update_receive

        return await update_receive.handle(request, cfg, True)

    app.post("/api/update", stream=True, max_body_size=8 << 20)(bundle)
    app.post("/api/update/firmware", stream=True, max_body_size=8 << 20)(firmware)
