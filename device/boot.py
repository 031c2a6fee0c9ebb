# Runs first at every boot: switch to an uploaded update or roll back one
# that did not confirm (update.py, loaded only when one is pending), then
# join WiFi as config.json says (or open the setup access point), so
# main.py finds the network up. See wifi.py.
import gc

try:
    import json

    try:
        with open("config.json") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as exc:
        print("boot: config.json: %s" % exc)
        cfg = {}
    try:
        import os

        os.stat("update.d/state.json")
    except OSError:
        pass
    else:
        try:
            import update

            update.at_boot(cfg.get("update_trial_s", 60))
            if update.trial is None:
                import sys

                del sys.modules["update"], update
        except Exception as exc:
            print("boot: update: %s" % exc)
    if cfg.get("update_token") or cfg.get("http_password"):
        # Updates are on: their streamed routes' code (and with it the
        # server's) loads now, while the heap is emptiest and in one piece.
        import httpserver.uploads  # noqa: F401
    import wifi

    wifi.setup(cfg)
    del cfg
except Exception as exc:
    # Never stop the board from booting: main.py tries again.
    print("boot: %s" % exc)
gc.collect()
