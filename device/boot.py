# Runs first at every boot: join WiFi as config.json says (or open the
# setup access point), so main.py finds the network up. See wifi.py.
import gc

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
