"""Admin accounts and logins, with lock-out after repeated failures."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from app.db import admin_repo, audit_repo
from app.db.tables import utcnow
from app.errors import BadCredentials, LockedOut, ParameterError
from app.runtime import Runtime
from app.security.caller import Caller
from app.security.passwords import DUMMY_HASH, hash_password, verify_password
from app.services import audit


async def login(rt: Runtime, username: str, password: str, ip: str) -> str:
    """Check the password and return a signed token, or raise without saying which part
    was wrong. Failures are counted per user name in the database, so every worker sees them."""
    lock, admin = await rt.db.read(
        lambda tx: (admin_repo.lock_of(tx, username), admin_repo.by_name(tx, username))
    )
    now = utcnow()
    if lock is not None and lock.locked_until is not None and lock.locked_until > now:
        wait = int((lock.locked_until - now).total_seconds()) + 1
        raise LockedOut(f"Too many failed logins for {username!r}; try again in {wait} s")
    # Unknown users cost the same hash as known ones: timing tells nothing.
    valid = await verify_password(admin.password_hash if admin else DUMMY_HASH, password)

    def settle(tx: Session) -> bool:
        if valid and admin is not None:
            if lock is not None:
                admin_repo.clear_failures(tx, username)
            audit_repo.add(tx, audit.entry(action="auth", actor=username, client_ip=ip))
            return True
        failures = admin_repo.count_failure(tx, username)
        if failures >= rt.settings.login_max_failures:
            until = now + timedelta(seconds=rt.settings.login_lockout_seconds)
            admin_repo.lock(tx, username, until)
        audit_repo.add(
            tx,
            audit.entry(
                action="auth",
                success=False,
                actor=username,
                client_ip=ip,
                info="wrong credentials",
            ),
        )
        return False

    if await rt.db.write(settle):
        return rt.issuer.issue(username, "admin")
    raise BadCredentials("Authentication failure. Wrong credentials")


async def add(rt: Runtime, name: str, password: str | None, caller: Caller) -> str:
    """Create an admin (or reset its password); returns the password, generated if none."""
    if not name or len(name) > 255:
        raise ParameterError("ERR905: Invalid parameter: name must be 1 to 255 characters")
    password = password or secrets.token_urlsafe(16)
    hashed = await hash_password(password)

    def save(tx: Session) -> None:
        if not admin_repo.set_password(tx, name, hashed):
            admin_repo.add(tx, name, hashed)
        audit_repo.add(tx, audit.entry(action="admin_add", actor=caller.name, target=name))

    await rt.db.write(save)
    return password


async def bootstrap(rt: Runtime) -> tuple[str, str | None]:
    """On first start create the first admin; returns (name, generated password or None)."""
    if await rt.db.read(admin_repo.count):
        return rt.settings.admin_user, None
    given = rt.settings.admin_password.get_secret_value() if rt.settings.admin_password else None
    password = await add(rt, rt.settings.admin_user, given, Caller("bootstrap"))
    return rt.settings.admin_user, None if given else password
