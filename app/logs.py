"""Logging: text or JSON lines, one access line per request from smsgw.access.

uvicorn's own access log is silenced: its line carries the raw path, whose query string
may hold a PIN or an OTP, and none of the request id, route template or latency.
"""

from __future__ import annotations

from typing import Any, Literal

LogFormat = Literal["text", "json"]
QUIET = ("sqlalchemy", "httpx", "httpcore", "aiosqlite", "asyncpg", "aiosmtplib", "hpack")


def log_config(level: str, fmt: LogFormat = "text") -> dict[str, Any]:
    formatter: dict[str, Any] = (
        {"()": "app.observability.json_logs.JsonFormatter"}
        if fmt == "json"
        else {
            "()": "app.observability.json_logs.ScrubbingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default"}},
        # "root", not the "" logger: gunicorn merges this over its own defaults.
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "gunicorn.error": {"handlers": [], "level": level, "propagate": True},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "alembic": {"level": "WARNING"},
            # At DEBUG these would log SQL parameters and request URLs, which carry numbers
            # and texts; their warnings and errors still come through.
            **{name: {"level": "WARNING"} for name in QUIET},
        },
    }
