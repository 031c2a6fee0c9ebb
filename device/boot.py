# Runs first at every boot: join WiFi as config.json says (or open the
# setup access point), so main.py finds the network up. See wifi.py. An
# update waiting in update.d/ is switched in, tried or rolled back first
# (updateboot.py, loaded only then).
import gc

try:
    import json

    import wifi

    try:
        with open("config.json") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as exc:
        print("boot: config.json: %s" % exc)
        cfg = {}
    try:
        open("update.d/state.json").close()
    except OSError:
        pass
    else:
        import updateboot

        updateboot.at_boot(cfg)
    wifi.setup(cfg)
    del cfg
except Exception as exc:
    # Never stop the board from booting: main.py tries again.
    print("boot: %s" % exc)
gc.collect()
