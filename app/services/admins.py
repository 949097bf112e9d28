"""Admin accounts and logins, with lock-out after repeated failures."""

from __future__ import annotations

import secrets
from datetime import timedelta

from app.db import admin_repo, audit_repo
from app.db.tables import utcnow
from app.errors import BadCredentials, LockedOut, ParameterError
from app.runtime import Runtime
from app.security.passwords import DUMMY_HASH, hash_password, verify_password
from app.services.audit import Caller


async def login(rt: Runtime, username: str, password: str, ip: str) -> str:
    """Check the password and return a signed token, or raise without saying which part
    was wrong. Failures are counted per user name in the database, so every worker sees them."""
    async with rt.db.reading() as tx:
        lock = await admin_repo.lock_of(tx, username)
        admin = await admin_repo.by_name(tx, username)
    now = utcnow()
    if lock is not None and lock.locked_until is not None and lock.locked_until > now:
        wait = int((lock.locked_until - now).total_seconds()) + 1
        raise LockedOut(f"Too many failed logins for {username!r}; try again in {wait} s")
    # Unknown users cost the same hash as known ones: timing tells nothing.
    valid = await verify_password(admin.password_hash if admin else DUMMY_HASH, password)
    async with rt.db.transaction() as tx:
        if valid and admin is not None:
            if lock is not None:
                await admin_repo.clear_failures(tx, username)
            await audit_repo.add(tx, actor=username, action="auth", client_ip=ip)
            return rt.issuer.issue(username, "admin")
        failures = await admin_repo.count_failure(tx, username)
        if failures >= rt.settings.login_max_failures:
            until = now + timedelta(seconds=rt.settings.login_lockout_seconds)
            await admin_repo.lock(tx, username, until)
        await audit_repo.add(
            tx,
            actor=username[:255],
            action="auth",
            success=False,
            client_ip=ip,
            info="wrong credentials",
        )
    raise BadCredentials("Authentication failed.")  # privacyIDEA's words; clients match them


async def add(rt: Runtime, name: str, password: str | None, caller: Caller) -> str:
    """Create an admin (or reset its password); returns the password, generated if none."""
    if not name or len(name) > 255:
        raise ParameterError("ERR905: Invalid parameter: name must be 1 to 255 characters")
    password = password or secrets.token_urlsafe(16)
    hashed = await hash_password(password)
    async with rt.db.transaction() as tx:
        if not await admin_repo.set_password(tx, name, hashed):
            await admin_repo.add(tx, name, hashed)
        await audit_repo.add(tx, actor=caller.name, action="admin_add", target=name)
    return password


async def bootstrap(rt: Runtime) -> tuple[str, str | None]:
    """On first start create the first admin; returns (name, generated password or None)."""
    async with rt.db.reading() as tx:
        if await admin_repo.count(tx):
            return rt.settings.admin_user, None
    given = rt.settings.admin_password.get_secret_value() if rt.settings.admin_password else None
    password = await add(rt, rt.settings.admin_user, given, Caller("bootstrap"))
    return rt.settings.admin_user, None if given else password
