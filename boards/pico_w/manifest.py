# Firmware manifest for the pico_w board (RPI_PICO_W): the official board's own
# manifest (asyncio, network helpers, ...) plus httpserver and the device app.
# Build from a MicroPython checkout, e.g.
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=$PWD/../httpserver/boards/pico_w/manifest.py
include("$(BOARD_DIR)/manifest.py")
include("../app_manifest.py")
