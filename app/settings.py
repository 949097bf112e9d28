"""Service configuration from SMSGW_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.security.keys import split_keys


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSGW_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Keys, the SQLite database and scripts")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite in the data directory"
    )
    jwt_key: SecretStr | None = Field(
        None,
        description="JWT keys, newest first, separated by commas: the first signs, "
        "each verifies; default: generated into the data directory",
    )
    encryption_key: SecretStr | None = Field(
        None,
        description="Fernet keys for secrets at rest, newest first, separated by commas: "
        "the first encrypts, each decrypts (`smsgw keys rotate` re-encrypts under the "
        "first); default: generated into the data directory",
    )
    apikey_hash_key: SecretStr | None = Field(
        None,
        description="Key of the HMAC under which API keys are stored; default: generated "
        "into the data directory (changing it invalidates every API key)",
    )
    jwt_lifetime_seconds: int = Field(3600, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    script_dir: Path | None = Field(None, description="Where the script provider finds scripts")
    admin_user: str = "admin"
    admin_password: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(1_048_576, gt=0, description="Larger request bodies are a 413")
    cache_seconds: float = Field(
        2.0,
        ge=0,
        description="How long a worker may serve gateway definitions and policies "
        "from memory before re-reading them (its own writes clear them at once)",
    )
    hash_threads: int | None = Field(
        None,
        gt=0,
        description="Threads hashing passwords and PINs per process; default: "
        "the cores, divided among the workers of `smsgw serve --workers`",
    )
    pin_workers: bool = Field(
        False,
        description="Keep each worker of `smsgw serve --workers` on its own share of the cores",
    )
    delivery_sender: bool = Field(
        True, description="Send queued messages from this process (off: admit only)"
    )
    delivery_concurrency: int = Field(
        200, gt=0, description="Messages one process sends from the outbox at once"
    )
    delivery_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a process holds a message it sends; after that another "
        "process takes it over. Longer than every gateway's TIMEOUT",
    )
    delivery_poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle sender looks for due messages anyway"
    )
    login_max_failures: int = Field(5, gt=0, description="Failed logins before a lock-out")
    login_lockout_seconds: int = Field(
        300,
        ge=0,
        description="How long a lock-out lasts; failures older than this no longer count",
    )
    failcounter_clear_seconds: int = Field(
        300,
        ge=0,
        description="An SMS token's fail counter starts again from zero when its last "
        "failure is older than this (privacyIDEA's failcounter_clear_timeout); 0: never",
    )
    hash_queue_pin: int = Field(
        128, gt=0, description="PIN checks per process waiting to be hashed; more are a 503"
    )
    hash_queue_admin: int = Field(
        32, gt=0, description="Admin logins per process waiting to be hashed; more are a 503"
    )
    audit_retention_days: float = Field(
        90, ge=0, description="Audit rows older than this are deleted; 0: kept for ever"
    )
    message_retention_days: float = Field(
        30, ge=0, description="Message log rows older than this are deleted; 0: kept for ever"
    )
    login_failure_retention_seconds: int = Field(
        86400,
        ge=0,
        description="Failed-login counters of admin names (existing or not) are deleted "
        "this long after their last failure (never before a lock-out ends)",
    )
    purge_interval_seconds: float = Field(
        300, gt=0, description="How often each process deletes expired rows"
    )

    @field_validator("encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = split_keys(value.get_secret_value())
        if not keys:
            raise ValueError("give at least one key")
        for position, key in enumerate(keys, 1):
            try:
                Fernet(key.encode())
            except ValueError:
                raise ValueError(
                    f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)"
                ) from None
        return value

    @property
    def effective_database_url(self) -> str:
        url = self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'smsgw.db'}"
        # Operators paste plain PostgreSQL URLs; the service needs the async driver.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @property
    def effective_script_dir(self) -> Path:
        return self.script_dir or self.data_dir / "scripts"


@lru_cache
def get_settings() -> Settings:
    return Settings()
