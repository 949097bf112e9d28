"""API keys for services: long-lived, revocable credentials limited to named actions.

A key is 32 random bytes (plus a prefix that tells it from a JWT). Only its HMAC-SHA-256
under the service's API-key hash key is stored: a key is checked on every request, and a
keyed hash costs microseconds where argon2 costs tens of milliseconds; 256 random bits
need no slow hash against guessing. Each request reads the key's row, so a revoked key
stops working at once on every worker and node.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.db import admin_repo, apikey_repo
from app.db.tables import ApiKey, utcnow
from app.errors import BadToken, Conflict, NotFound
from app.runtime import Runtime
from app.schemas.apikey import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from app.schemas.policy import as_list
from app.security.caller import Caller
from app.services import policies
from app.services.audit import audited_write

PREFIX = "smsgw_"
# last_used_at is written at most this often per key: a write per request would put the
# database's writer on the path of every send.
_TOUCH_EVERY = timedelta(minutes=1)


def looks_like_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


def _hash(rt: Runtime, key: str) -> str:
    return hmac.new(rt.apikey_pepper, key.encode(), hashlib.sha256).hexdigest()


async def create(rt: Runtime, form: ApiKeyIn, caller: Caller) -> ApiKeyCreated:
    """A new key; its value is in the answer and nowhere else."""
    actions = as_list(form.actions)
    # Nobody hands out more than they hold: a key named like a better-placed admin would
    # otherwise inherit that admin's policies.
    for action in actions:
        await policies.require(rt, caller, action)
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=form.name,
        key_hash=_hash(rt, key),
        actions=",".join(actions),
        created_by=caller.name[:255],
    )

    def save(tx: Session) -> None:
        if apikey_repo.by_name(tx, form.name) is not None:
            raise Conflict(f"ERR905: Invalid parameter: name: {form.name!r} already exists")
        # Policies are matched by name: a key named like an admin would get that admin's.
        if admin_repo.by_name(tx, form.name) is not None:
            raise Conflict(
                f"ERR905: Invalid parameter: name: {form.name!r} is the name of an admin"
            )
        apikey_repo.add(tx, row)

    await audited_write(rt, caller, "apikey_write", form.name, save)
    return ApiKeyCreated(name=row.name, key=key, actions=actions, created_at=row.created_at)


async def listing(rt: Runtime) -> list[ApiKeyOut]:
    rows = await rt.db.read(apikey_repo.listing)
    return [
        ApiKeyOut(
            name=r.name,
            actions=as_list(r.actions),
            created_by=r.created_by,
            created_at=r.created_at,
            last_used_at=r.last_used_at,
        )
        for r in rows
    ]


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    def remove(tx: Session) -> int:
        removed = apikey_repo.delete_by_name(tx, name)
        if not removed:
            raise NotFound(f"The API key {name[:100]!r} does not exist")
        return removed

    return await audited_write(rt, caller, "apikey_delete", name, remove)


async def authenticate(rt: Runtime, key: str, ip: str, *, name: str | None = None) -> Caller:
    """The caller behind a key (and, for HTTP Basic, its name); BadToken if none matches."""
    presented = _hash(rt, key)
    row = await rt.db.read(lambda tx: apikey_repo.find(tx, key_hash=presented, name=name))
    if row is None or not hmac.compare_digest(str(row.key_hash), presented):
        raise BadToken("Authentication failure. The API key is invalid or revoked.")
    now = utcnow()
    last_used = row.last_used_at
    if not isinstance(last_used, datetime) or _aware(last_used) < now - _TOUCH_EVERY:
        older_than = now - _TOUCH_EVERY
        key_name = str(row.name)
        await rt.db.write(lambda tx: apikey_repo.touch(tx, key_name, now, older_than))
    return Caller(name=str(row.name), ip=ip, role="apikey", actions=frozenset(as_list(row.actions)))


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for what was stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)
