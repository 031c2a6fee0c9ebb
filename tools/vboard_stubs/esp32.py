# VIRTUAL BOARD STAND-IN for the ESP32's `esp32` module - not firmware code.
#
# On a board `esp32` is built in and costs no heap; tools/vboard.py imports
# this stand-in before the flash hides this folder, so it is kept tiny: the
# stand-in proper (Partition, see _vboard_esp32.py) loads at its first use.
# Only an ESP32 board has this module; elsewhere importing it fails, as there.
import _vboard

if _vboard.get("platform") != "esp32":
    raise ImportError("no module named 'esp32'")

_HERE = __file__.rsplit("/", 1)[0]


def __getattr__(name):
    import vfs

    # A host path, outside the flash that open() and import are confined to.
    f = vfs.VfsPosix().open(_HERE + "/_vboard_esp32.py", "r")
    source = f.read()
    f.close()
    exec(source, globals())
    if name not in globals():
        raise AttributeError(name)
    return globals()[name]
