# Runs first at every boot: join WiFi as config.json says (or open the
# setup access point), so main.py finds the network up. See wifi.py. An
# update waiting in update.d/ is switched in, tried or rolled back first.
import gc
import sys

# Firmware with a ROMFS image puts /rom/lib before /lib on sys.path. An update
# over the air writes its library to /lib (deploy --romfs leaves none there):
# then /lib comes first, or the image's old library would run the new app.
if "/rom/lib" in sys.path and "/lib" in sys.path[sys.path.index("/rom/lib") :]:
    for name in ("/lib/httpserver/__init__.mpy", "/lib/httpserver/__init__.py"):
        try:
            open(name).close()
        except OSError:
            continue
        sys.path.remove("/lib")
        sys.path.insert(sys.path.index("/rom/lib"), "/lib")
        break
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
