"""Key material: taken from settings, else generated once into the data directory.

A key setting or key file may hold several keys, newest first: the newest encrypts and
signs, every one of them still opens and verifies, so a key can be replaced without a
moment in which stored secrets or issued tokens stop working.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import make_url

_SEPARATORS = re.compile(r"[\s,]+")


def split_keys(text: str) -> list[str]:
    """Keys given as one setting or file: separated by commas, spaces or newlines."""
    return [key for key in _SEPARATORS.split(text.strip()) if key]


def _load_or_create(path: Path, make: bytes) -> bytes:
    if path.exists():
        private_file(path)
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


def jwt_keys(data_dir: Path, given: str | None) -> list[bytes]:
    text = given or _load_or_create(data_dir / "jwt.key", new_jwt_key().encode()).decode()
    return [key.encode() for key in split_keys(text)]


def encryption_keys(data_dir: Path, given: str | None) -> list[bytes]:
    text = given or _load_or_create(data_dir / "secret.key", new_encryption_key().encode()).decode()
    return [key.encode() for key in split_keys(text)]


def apikey_pepper(data_dir: Path, given: str | None) -> bytes:
    """The key of the keyed hash under which API keys are stored."""
    if given:
        return given.encode()
    return _load_or_create(data_dir / "apikey.key", secrets.token_urlsafe(48).encode())


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


def new_jwt_key() -> str:
    return secrets.token_urlsafe(48)


def private_file(path: Path) -> None:
    """Take group and other permissions off a file this process owns (umask may allow them)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)


def private_sqlite(url: str) -> None:
    """Create the SQLite file mode 600 before SQLite does, and tighten an existing one.

    SQLite gives its -wal and -shm files the mode of the database file, so these follow.
    """
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(path.with_name(path.name + suffix))
