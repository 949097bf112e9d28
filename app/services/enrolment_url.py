"""privacyIDEA's enrolment URL of an HOTP-based token (`detail.googleurl` of /token/init)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import qrcode
import qrcode.image.svg

from app.schemas.token import GoogleUrl

ISSUER = "smsgw"


def otpauth_url(*, tokentype: str, serial: str, key: bytes, otplen: int) -> str:
    """The Key URI privacyIDEA builds: the label is the serial, the secret base32 without
    padding; SHA-1 is the default and left out, and only an `hotp` token names a counter."""
    secret = base64.b32encode(key).decode().rstrip("=")
    counter = "counter=1&" if tokentype == "hotp" else ""
    return (
        f"otpauth://{tokentype}/{quote(serial)}?secret={secret}&{counter}digits={otplen}&"
        f"creator={ISSUER}&issuer={ISSUER}&serial={quote(serial)}"
    )


def qr_data_url(text: str) -> str:
    """The text as a QR code in an inline SVG data: URL (no imaging library needed)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def google_url(*, serial: str, key: bytes, otplen: int) -> GoogleUrl:
    value = otpauth_url(tokentype="sms", serial=serial, key=key, otplen=otplen)
    return GoogleUrl(
        description="URL for google Authenticator", img=qr_data_url(value), value=value
    )
