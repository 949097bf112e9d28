"""HOTP (RFC 4226): HMAC-SHA-1 one-time passwords from a secret and a counter."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def matches(key: bytes, counter: int, digits: int, candidate: str) -> bool:
    """Constant-time comparison of a candidate with the OTP at `counter`."""
    return hmac.compare_digest(hotp(key, counter, digits).encode(), candidate.encode())


def new_key() -> bytes:
    return secrets.token_bytes(20)  # 160 bits, RFC 4226's recommendation
