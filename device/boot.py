# Runs first at every boot: join WiFi as config.json says (or open the
# setup access point), so main.py finds the network up. See wifi.py. An
# update waiting in update.d/ is switched in, tried or rolled back first.
import gc

try:
    open("update.d/state.json").close()
except OSError:
    pass
else:
    try:
        import update  # loaded only then: see update.py

        update.at_boot()
    except Exception as exc:
        print("boot: update: %s" % exc)
try:
    import json

    import wifi

    try:
        with open("config.json") as f:
            wifi.setup(json.load(f))
    except (OSError, ValueError) as exc:
        print("boot: config.json: %s" % exc)
        wifi.setup({})
except Exception as exc:
    # Never stop the board from booting: main.py tries again.
    print("boot: %s" % exc)
gc.collect()
