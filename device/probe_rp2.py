"""Status provider for RP2040 / RP2350 boards (Pico, Pico W, Pico 2 W).

Adds the on-chip temperature sensor (ADC.CORE_TEMP, channel 4 on the RP2040),
converted with the formula of the RP2040 datasheet, section 4.9.5.
"""

from probe import Probe


class Rp2Probe(Probe):
    PLATFORM = "rp2"

    def temp_c(self):
        from machine import ADC

        adc = ADC(getattr(ADC, "CORE_TEMP", 4))
        volts = adc.read_u16() * 3.3 / 65535
        return round(27 - (volts - 0.706) / 0.001721, 1)
