"""HMAC-SHA256 and a constant-time comparison, for sessions and auth.

Written out because MicroPython has hashlib.sha256 but no hmac module
(RFC 2104; checked against CPython's hmac with the RFC 4231 vectors).
"""

from hashlib import sha256

_BLOCK = 64  # SHA-256 block size in bytes


class Signer:
    """HMAC-SHA256 with one key; the padded keys are made once, not per message."""

    def __init__(self, key):
        if isinstance(key, str):
            key = key.encode()
        if len(key) > _BLOCK:
            key = sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._inner = bytes(b ^ 0x36 for b in key)
        self._outer = bytes(b ^ 0x5C for b in key)

    def digest(self, message):
        inner = sha256(self._inner)
        inner.update(message)
        outer = sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()


def hmac_sha256(key, message):
    """The HMAC-SHA256 of message (bytes) with key (bytes or str)."""
    return Signer(key).digest(message)


def compare_digest(a, b):
    """a == b in a time that does not depend on where they differ."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    if len(a) != len(b):
        return False
    difference = 0
    for x, y in zip(a, b):
        difference |= x ^ y
    return difference == 0


def same_secret(given, expected):
    """Whether given equals expected, without telling how long expected is."""
    if isinstance(given, str):
        given = given.encode()
    if isinstance(expected, str):
        expected = expected.encode()
    return compare_digest(sha256(given).digest(), sha256(expected).digest())
