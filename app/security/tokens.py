"""Admin session tokens: HS256 JWTs signed with the service's key."""

from __future__ import annotations

import time
import uuid

import jwt

from app.errors import BadToken

_ALGORITHM = "HS256"


class TokenIssuer:
    def __init__(self, key: bytes, lifetime_seconds: int) -> None:
        self._key = key
        self.lifetime = lifetime_seconds

    def issue(self, username: str, role: str = "admin") -> str:
        now = int(time.time())
        claims = {
            "sub": username,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
            "iss": "smsgw",
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> dict[str, str]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer="smsgw",
                options={"require": ["exp", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise BadToken("Authentication failure. Your token has expired.") from None
        except jwt.PyJWTError:
            raise BadToken("Authentication failure. The token is invalid.") from None
        return {"username": str(claims["sub"]), "role": str(claims["role"])}
