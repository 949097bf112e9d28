"""Admin session tokens: HS256 JWTs signed with the service's key."""

from __future__ import annotations

import time
import uuid

import jwt

from app.errors import BadToken

_ALGORITHM = "HS256"
_CACHE_SIZE = 10_000


class TokenIssuer:
    def __init__(self, key: bytes, lifetime_seconds: int) -> None:
        self._key = key
        self.lifetime = lifetime_seconds
        self._verified: dict[str, tuple[float, dict[str, str]]] = {}

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
        # An auth service sends the same token on every request: verify it once.
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        claims = self._verify(token)
        if len(self._verified) >= _CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (float(claims.pop("exp")), claims)
        return claims

    def _verify(self, token: str) -> dict[str, str]:
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
        except jwt.DecodeError as exc:
            # privacyIDEA's words, which clients match; PyJWT's reason names no secret.
            raise BadToken(
                f"Authentication failure. Error decoding the Authorization token: {exc}"
            ) from None
        except jwt.PyJWTError:
            raise BadToken("Authentication failure. The token is invalid.") from None
        return {"username": str(claims["sub"]), "role": str(claims["role"]), "exp": claims["exp"]}
