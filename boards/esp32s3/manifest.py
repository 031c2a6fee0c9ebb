# Firmware manifest for the esp32s3 board (ESP32_GENERIC_S3): the esp32 port's default
# manifest (asyncio, network helpers, ...) plus httpserver and the device app.
# Build from a MicroPython checkout, e.g.
#   make -C ports/esp32 BOARD=ESP32_GENERIC_S3 FROZEN_MANIFEST=$PWD/../httpserver/boards/esp32s3/manifest.py
include("$(PORT_DIR)/boards/manifest.py")
include("../app_manifest.py")
