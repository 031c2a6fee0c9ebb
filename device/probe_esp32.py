"""Status provider for ESP32 boards (all variants).

Adds the chip's temperature sensor: esp32.mcu_temperature() on the variants
that have one (S2, S3, C3, C6, ...), esp32.raw_temperature() (Fahrenheit) on
the original ESP32, where the value 128 means the sensor is absent.
"""

from probe import Probe


class Esp32Probe(Probe):
    PLATFORM = "esp32"

    def temp_c(self):
        import esp32

        if hasattr(esp32, "mcu_temperature"):
            return round(float(esp32.mcu_temperature()), 1)
        f = esp32.raw_temperature()
        if f == 128:
            return None
        return round((f - 32) / 1.8, 1)
