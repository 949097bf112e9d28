"""SMS tokens: enrolment and administration (privacyIDEA's /token endpoints)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db import token_repo
from app.db.tables import Token
from app.errors import Conflict, NotFound
from app.runtime import Runtime
from app.schemas.token import (
    GoogleUrl,
    TokenInfo,
    TokenInitIn,
    TokenOut,
    TokenPage,
    TokenSelectIn,
)
from app.security import hotp
from app.security.caller import Caller
from app.security.passwords import hash_password
from app.services import gateways, policies
from app.services.audit import audited_write
from app.services.enrolment_url import google_url
from app.services.paging import neighbours
from app.services.phone import normalise


def _new_serial() -> str:
    return "PISM" + secrets.token_hex(4).upper()


async def init(rt: Runtime, form: TokenInitIn, caller: Caller) -> tuple[str, GoogleUrl]:
    """Enrol an SMS token for a user; returns its serial and privacyIDEA's enrolment URL."""
    (await policies.scope(rt, caller, "enrollSMS")).check(form.realm, form.user)
    phone = normalise(form.phone)
    if form.sms_identifier:
        await gateways.check_route(rt, "sms.identifier", form.sms_identifier)
    pin_hash = await hash_password(form.pin) if form.pin else ""
    key = hotp.new_key()
    sealed_key = rt.box.seal(key.hex())
    serial = form.serial or _new_serial()

    def enrol(tx: Session) -> None:
        if token_repo.serial_taken(tx, serial):
            raise Conflict(f"ERR905: Invalid parameter: serial: {serial!r} already exists")
        token_repo.add(
            tx,
            Token(
                serial=serial,
                username=form.user,
                realm=form.realm,
                description=form.description,
                otplen=form.otplen,
                maxfail=form.maxfail,
                otpkey=sealed_key,
                pin_hash=pin_hash,
                phone=phone,
                sms_identifier=form.sms_identifier,
            ),
        )

    await audited_write(rt, caller, "token_init", serial, enrol)
    return serial, google_url(serial=serial, key=key, otplen=form.otplen)


def to_out(token: Token) -> TokenOut:
    return TokenOut(
        serial=token.serial,
        tokentype=token.tokentype,
        username=token.username,
        realm=token.realm,
        user_realm=token.realm,
        realms=[token.realm] if token.realm else [],
        description=token.description,
        active=token.active,
        locked=token.failcount >= token.maxfail,
        failcount=token.failcount,
        maxfail=token.maxfail,
        otplen=token.otplen,
        count=token.counter,
        info=TokenInfo(phone=token.phone, sms_identifier=token.sms_identifier),
    )


async def page(
    rt: Runtime,
    caller: Caller,
    *,
    serial: str | None,
    user: str | None,
    realm: str | None,
    page: int,
    pagesize: int,
) -> TokenPage:
    # Tokens outside the realms (and users) the admin's policies cover are not listed.
    limits = await policies.scope(rt, caller, "tokenlist")
    total, rows = await rt.db.read(
        lambda tx: token_repo.page(
            tx,
            serial=serial,
            user=user,
            realm=realm,
            offset=(page - 1) * pagesize,
            limit=pagesize,
            scope=limits.rules,
        )
    )
    following, previous = neighbours(total, page, pagesize)
    return TokenPage(
        tokens=[to_out(t) for t in rows],
        count=total,
        current=page,
        next=following,
        prev=previous,
    )


def _serials(tx: Session, selection: TokenSelectIn, limits: policies.Scope) -> Sequence[str]:
    if selection.serial:
        token = token_repo.by_serial(tx, selection.serial)
        if token is None:
            raise NotFound(f"The token with serial {selection.serial!r} does not exist")
        limits.check(token.realm, token.username)
        return [token.serial]
    assert selection.user is not None
    limits.check(selection.realm, selection.user)
    found = [t.serial for t in token_repo.of_user(tx, selection.user, selection.realm)]
    if not found:
        raise NotFound(f"The user {selection.user!r} has no tokens")
    return found


async def delete(rt: Runtime, serial: str, caller: Caller) -> int:
    limits = await policies.scope(rt, caller, "delete")

    def remove(tx: Session) -> int:
        owner = token_repo.owner_of(tx, serial)
        if owner is not None:
            limits.check(owner[1], owner[0])
        removed = token_repo.delete_serial(tx, serial)
        if not removed:
            raise NotFound(f"The token with serial {serial!r} does not exist")
        return removed

    return await audited_write(rt, caller, "token_delete", serial, remove)


async def update(
    rt: Runtime, selection: TokenSelectIn, caller: Caller, action: str, **values: object
) -> int:
    """Set fields (active, failcount) on the selected tokens; returns how many."""
    limits = await policies.scope(rt, caller, action.removeprefix("token_"))

    def apply(tx: Session) -> int:
        return token_repo.set_fields(tx, _serials(tx, selection, limits), **values)

    target = selection.serial or f"{selection.user}@{selection.realm}"
    return await audited_write(rt, caller, action, target, apply)


async def set_pin(rt: Runtime, serial: str, pin: str, caller: Caller) -> int:
    pin_hash = await hash_password(pin) if pin else ""
    return await update(rt, TokenSelectIn(serial=serial), caller, "token_setpin", pin_hash=pin_hash)
