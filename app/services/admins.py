"""Admin accounts and logins, with lock-out after repeated failures."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.db import admin_repo, apikey_repo, audit_repo
from app.db.tables import Admin, LoginFailure, utcnow
from app.errors import BadCredentials, LockedOut, NotFound, ParameterError
from app.runtime import Runtime
from app.security.caller import Caller
from app.security.passwords import (
    DUMMY_HASH,
    admission,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.services import audit
from app.services.audit import audited_write


async def login(rt: Runtime, username: str, password: str, ip: str) -> str:
    """Check the password and return a signed token, or raise without saying which part
    was wrong. Failures are counted per user name in the database, so every worker sees
    them, and counted before the check, so concurrent guesses cannot pass the limit."""
    settings = rt.settings
    window = timedelta(seconds=settings.login_lockout_seconds)
    with admission("admin"):  # 503 when too many logins wait for the hash thread
        now = utcnow()

        def reserve(tx: Session) -> tuple[bool, Admin | None, LoginFailure | None]:
            reserved = admin_repo.reserve_attempt(
                tx, username, now, limit=settings.login_max_failures, window=window
            )
            if reserved:
                return True, admin_repo.by_name(tx, username), None
            return False, None, admin_repo.lock_of(tx, username)

        reserved, admin, lock = await rt.db.write(reserve)
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
        rehashed = None
        if valid and admin is not None and needs_rehash(admin.password_hash):
            rehashed = await hash_password(password)

    def settle(tx: Session) -> bool:
        if valid and admin is not None:
            admin_repo.clear_failures(tx, username)
            if rehashed is not None:
                admin_repo.rehash(tx, username, admin.password_hash, rehashed)
            audit_repo.add(tx, audit.entry(action="auth", actor=username, client_ip=ip))
            return True
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

    if await rt.db.write(settle) and admin is not None:
        return rt.issuer.issue(username, "admin", admin.token_generation)
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

    def save(tx: Session) -> None:
        if not admin_repo.set_password(tx, name, hashed):
            # Policies are matched by name: an admin named like an API key would share them.
            if apikey_repo.by_name(tx, name) is not None:
                raise ParameterError(
                    f"ERR905: Invalid parameter: name: {name!r} is the name of an API key"
                )
            admin_repo.add(tx, name, hashed)
        audit_repo.add(tx, audit.entry(action="admin_add", actor=caller.name, target=name))

    await rt.db.write(save)
    rt.admin_cache.clear(name)
    return password


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    """Delete an admin; its tokens stop working. The last admin cannot be deleted."""

    def remove(tx: Session) -> int:
        if admin_repo.by_name(tx, name) is None:
            raise NotFound(f"The admin {name[:100]!r} does not exist")
        # Two deletions at once must not both see another admin left.
        if admin_repo.lock_all(tx) <= 1:
            raise ParameterError(
                f"ERR905: Invalid parameter: name: {name!r} is the last admin; add another first"
            )
        removed = admin_repo.delete_admin(tx, name)
        admin_repo.clear_failures(tx, name)
        return removed

    removed = await audited_write(rt, caller, "admin_delete", name, remove)
    rt.admin_cache.clear(name)
    return removed


async def token_generation(rt: Runtime, name: str) -> int | None:
    """The admin's current token generation (None: no such admin), as this worker last read it.

    Read on every admin request; cached like policies (`cache_seconds`), so a password
    change or deletion on another worker or node is seen within that time, and at once
    on the worker that made it.
    """
    return await rt.admin_cache.get(
        name, lambda: rt.db.read(lambda tx: admin_repo.generation_of(tx, name))
    )


async def bootstrap(rt: Runtime) -> tuple[str, str | None]:
    """On first start create the first admin; returns (name, generated password or None)."""
    if await rt.db.read(admin_repo.count):
        return rt.settings.admin_user, None
    given = rt.settings.admin_password.get_secret_value() if rt.settings.admin_password else None
    password = await add(rt, rt.settings.admin_user, given, Caller("bootstrap"))
    return rt.settings.admin_user, None if given else password
