"""Admin accounts and logins, with lock-out after repeated failures."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from app.db import admin_repo, apikey_repo, audit_repo
from app.db.tables import utcnow
from app.errors import BadCredentials, LockedOut, NotFound, ParameterError
from app.runtime import Runtime
from app.security.passwords import DUMMY_HASH, admission, hash_password, verify_password
from app.services.audit import Caller, audited


async def login(rt: Runtime, username: str, password: str, ip: str) -> str:
    """Check the password and return a signed token, or raise without saying which part
    was wrong. Failures are counted per user name in the database, so every worker sees
    them, and counted before the check, so concurrent guesses cannot pass the limit."""
    settings = rt.settings
    window = timedelta(seconds=settings.login_lockout_seconds)
    with admission("admin"):  # 503 when too many logins wait for the hash thread
        now = utcnow()
        async with rt.db.transaction() as tx:
            reserved = await admin_repo.reserve_attempt(
                tx, username, now, limit=settings.login_max_failures, window=window
            )
            admin = await admin_repo.by_name(tx, username) if reserved else None
            lock = None if reserved else await admin_repo.lock_of(tx, username)
        if not reserved:
            # The row may be gone by now (a concurrent success): then it is nearly over.
            until = lock.last_failure + window if lock is not None else now
            raise LockedOut(
                f"Too many failed logins for {username!r}; try again in "
                f"{_seconds_left(until, now)} s"
            )
        # Unknown users cost the same hash as known ones: timing tells nothing.
        hashed = admin.password_hash if admin else DUMMY_HASH
        valid = await verify_password(hashed, password, lane="admin")
    async with rt.db.transaction() as tx:
        if valid and admin is not None:
            await admin_repo.clear_failures(tx, username)
            await audit_repo.add(tx, actor=username, action="auth", client_ip=ip)
            return rt.issuer.issue(username, "admin", admin.token_generation)
        await audit_repo.add(
            tx,
            actor=username[:255],
            action="auth",
            success=False,
            client_ip=ip,
            info="wrong credentials",
        )
    raise BadCredentials("Authentication failed.")  # privacyIDEA's words; clients match them


def _seconds_left(until: datetime, now: datetime) -> int:
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return max(0, int((until - now).total_seconds())) + 1


async def add(rt: Runtime, name: str, password: str | None, caller: Caller) -> str:
    """Create an admin (or reset its password); returns the password, generated if none."""
    if not name or len(name) > 255:
        raise ParameterError("ERR905: Invalid parameter: name must be 1 to 255 characters")
    password = password or secrets.token_urlsafe(16)
    hashed = await hash_password(password)
    async with rt.db.transaction() as tx:
        if not await admin_repo.set_password(tx, name, hashed):
            # Policies are matched by name: an admin named like an API key would share them.
            if await apikey_repo.by_name(tx, name) is not None:
                raise ParameterError(
                    f"ERR905: Invalid parameter: name: {name!r} is the name of an API key"
                )
            await admin_repo.add(tx, name, hashed)
        await audit_repo.add(tx, actor=caller.name, action="admin_add", target=name)
    rt.admin_cache.clear(name)
    return password


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    """Delete an admin; its tokens stop working. The last admin cannot be deleted."""
    async with audited(rt.db, caller, "admin_delete", name) as tx:
        if await admin_repo.by_name(tx, name) is None:
            raise NotFound(f"The admin {name[:100]!r} does not exist")
        # Two deletions at once must not both see another admin left.
        if await admin_repo.lock_all(tx) <= 1:
            raise ParameterError(
                f"ERR905: Invalid parameter: name: {name!r} is the last admin; add another first"
            )
        removed = await admin_repo.delete_admin(tx, name)
        await admin_repo.clear_failures(tx, name)
    rt.admin_cache.clear(name)
    return removed


async def token_generation(rt: Runtime, name: str) -> int | None:
    """The admin's current token generation (None: no such admin), as this worker last read it.

    Read on every admin request; cached like policies (`cache_seconds`), so a password
    change or deletion on another worker or node is seen within that time, and at once
    on the worker that made it.
    """
    return await rt.admin_cache.get(name, lambda: _generation(rt, name))


async def _generation(rt: Runtime, name: str) -> int | None:
    async with rt.db.reading() as tx:
        return await admin_repo.generation_of(tx, name)


async def bootstrap(rt: Runtime) -> tuple[str, str | None]:
    """On first start create the first admin; returns (name, generated password or None)."""
    async with rt.db.reading() as tx:
        if await admin_repo.count(tx):
            return rt.settings.admin_user, None
    given = rt.settings.admin_password.get_secret_value() if rt.settings.admin_password else None
    password = await add(rt, rt.settings.admin_user, given, Caller("bootstrap"))
    return rt.settings.admin_user, None if given else password
