"""Encryption at rest for gateway secrets and token seeds.

Several keys may be configured, newest first (Fernet's MultiFernet): the newest seals,
any of them opens, and `rotate` re-seals a value under the newest.
"""

from __future__ import annotations

from typing import ClassVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.errors import SmsgwError

CENSORED = "__CENSORED__"


class SecretUnreadable(SmsgwError):
    """A stored secret that no configured key opens: the key it was sealed with is gone.

    The service cannot use that value until the key is configured again or the value is
    entered anew; a 503 says so, never a 500.
    """

    status: ClassVar[int] = 503
    code: ClassVar[int] = 503


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str, what: str = "a stored secret") -> str:
        """The plaintext; SecretUnreadable naming `what` when no key opens it."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise _unreadable(what) from None

    def rotate(self, sealed: str, what: str = "a stored secret") -> str:
        """The same plaintext sealed under the newest key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise _unreadable(what) from None


def _unreadable(what: str) -> SecretUnreadable:
    return SecretUnreadable(
        f"{what} cannot be decrypted with any configured encryption key "
        "(SMSGW_ENCRYPTION_KEY): configure the key it was sealed with, or enter it anew"
    )
