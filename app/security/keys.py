"""Key material: taken from settings, else generated once into the data directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def _load_or_create(path: Path, make: bytes) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two workers starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
    return make


def jwt_key(data_dir: Path, given: str | None) -> bytes:
    if given:
        return given.encode()
    return _load_or_create(data_dir / "jwt.key", secrets.token_urlsafe(48).encode())


def encryption_key(data_dir: Path, given: str | None) -> bytes:
    if given:
        return given.encode()
    return _load_or_create(data_dir / "secret.key", Fernet.generate_key())
