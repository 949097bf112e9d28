"""Logging: uvicorn's access log without query strings (they may carry a PIN or an OTP)."""

from __future__ import annotations

import logging
from typing import Any


class StripQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            if isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        return True


def log_config(level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"strip_query": {"()": StripQuery}},
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default"},
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["strip_query"],
            },
        },
        # "root", not the "" logger: gunicorn merges this over its own defaults.
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            # Under `serve --workers`, uvicorn's access log is written through gunicorn's.
            "gunicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "alembic": {"level": "WARNING"},
        },
    }
