"""RFC 6238 time-based one-time passwords, written out here so the tests compute the codes an authenticator app would
show without asking the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

PERIOD = 30


def totp(secret_base32: str, at: float, digits: int = 6) -> str:
    key = base64.b32decode(secret_base32.upper() + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // PERIOD), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)
