"""Admin session tokens: HS256 JWTs signed with the service's key.

Several keys may be configured, newest first: the first signs, every one verifies, so
tokens issued before a key change stay valid until they expire.
"""

from __future__ import annotations

import time
import uuid

import jwt

from app.errors import BadToken

_ALGORITHM = "HS256"
_CACHE_SIZE = 10_000


class TokenIssuer:
    def __init__(self, keys: list[bytes], lifetime_seconds: int) -> None:
        if not keys:
            raise ValueError("at least one JWT key is required")
        self._keys = keys
        self.lifetime = lifetime_seconds
        self._verified: dict[str, tuple[float, dict[str, str | int]]] = {}

    def issue(self, username: str, role: str = "admin", generation: int = 0) -> str:
        now = int(time.time())
        claims = {
            "sub": username,
            "role": role,
            "gen": generation,  # the admin's token generation: a password change moves it on
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
            "iss": "smsgw",
        }
        return jwt.encode(claims, self._keys[0], algorithm=_ALGORITHM)

    def verify(self, token: str) -> dict[str, str | int]:
        """The claims `username`, `role` and `gen` of a valid token, else BadToken."""
        # An auth service sends the same token on every request: verify it once.
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        expires, claims = self._verify(token)
        if len(self._verified) >= _CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (expires, claims)
        return claims

    def _verify(self, token: str) -> tuple[float, dict[str, str | int]]:
        reason = "Signature verification failed"
        for key in self._keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[_ALGORITHM],
                    issuer="smsgw",
                    options={"require": ["exp", "sub", "role"]},
                )
            except jwt.InvalidSignatureError as exc:
                reason = str(exc)
                continue  # perhaps signed with an older key
            except jwt.ExpiredSignatureError:
                raise BadToken("Authentication failure. Your token has expired.") from None
            except jwt.DecodeError as exc:
                reason = str(exc)
                break
            except jwt.PyJWTError:
                raise BadToken("Authentication failure. The token is invalid.") from None
            generation = claims.get("gen", 0)
            return float(claims["exp"]), {
                "username": str(claims["sub"]),
                "role": str(claims["role"]),
                "gen": generation if isinstance(generation, int) else -1,
            }
        # privacyIDEA's words, which clients match; PyJWT's reason names no secret.
        raise BadToken(f"Authentication failure. Error decoding the Authorization token: {reason}")
