# Firmware manifest for the esp32 board (ESP32_GENERIC): the esp32 port's default
# manifest (asyncio, network helpers, ...) plus httpserver and the device app.
# Build from a MicroPython checkout, e.g.
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/../httpserver/boards/esp32/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../app_manifest.py")
