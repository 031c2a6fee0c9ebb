# The strict half of UTF-8 decoding, loaded when a byte above 0xBF is met:
# MicroPython's decoder lets overlong forms, surrogates and code points
# above U+10FFFF through (RFC 3629 forbids them), and most heads and
# WebSocket text are ASCII, which never needs this.


def is_strict_utf8(data):
    """Whether data, which bytes.decode() accepted, is UTF-8 as RFC 3629 says."""
    if b"\xc0" in data or b"\xc1" in data or max(data) >= 0xF5:
        return False
    # The lead bytes whose next byte has a narrower range than 80..BF.
    for lead, low, high in (
        (0xE0, 0xA0, 0xBF),
        (0xED, 0x80, 0x9F),
        (0xF0, 0x90, 0xBF),
        (0xF4, 0x80, 0x8F),
    ):
        marker = bytes((lead,))
        at = data.find(marker)
        while at >= 0:
            if at + 1 < len(data) and not low <= data[at + 1] <= high:
                return False
            at = data.find(marker, at + 1)
    return True
