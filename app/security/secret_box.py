"""Encryption at rest for gateway secrets and token seeds."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

CENSORED = "__CENSORED__"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            # A value sealed under another key is unusable, not a crash.
            raise ValueError("secret cannot be decrypted with the configured key") from None
