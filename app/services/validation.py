"""The SMS OTP token's logins: /validate/check and /validate/triggerchallenge.

Step 1: the PIN alone starts a challenge: an OTP goes out by SMS, the answer carries a
transaction_id. Step 2: transaction_id + OTP (or PIN+OTP) is accepted exactly once. Every
counter lives in the database and changes by single SQL statements, so several workers
and hosts may serve the same user at once.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Connection

from app.db import login_repo
from app.db.login_repo import LoginToken, OpenChallenge
from app.db.tables import utcnow
from app.errors import NotFound
from app.runtime import Runtime
from app.schemas.validate import ChallengeInfo, CheckDetail, CheckIn, TriggerIn
from app.security import hotp
from app.security.passwords import verify_password
from app.services import dispatch, system_config
from app.services.audit import note
from app.traffic import guard

CHALLENGE_MESSAGE = "Enter the OTP from the SMS:"
SMS_FAILED = "The PIN was correct, but the SMS could not be sent!"
NO_TOKENS = "The user has no tokens assigned"
NO_SUCH_TOKEN = "The token does not exist"
WRONG_PIN = "wrong otp pin"
WRONG_OTP = "wrong otp value"
NO_MATCH = "Response did not match the challenge."
LOCKED = "Failcounter exceeded"
DISABLED = "The token is disabled"
ACCEPTED = "matching 1 tokens"

Authentication = Literal["ACCEPT", "REJECT", "CHALLENGE"]


@dataclass
class Outcome:
    authentication: Authentication
    detail: CheckDetail
    challenges: int = 0

    @property
    def value(self) -> bool:
        return self.authentication == "ACCEPT"


@dataclass
class _Subject:
    user: str = ""
    realm: str = ""
    ip: str = ""
    serials: list[str] = field(default_factory=list)


def _detail(message: str, **extra: object) -> CheckDetail:
    return CheckDetail(message=message, threadid=threading.get_ident(), **extra)


def _reject(message: str, **extra: object) -> Outcome:
    return Outcome("REJECT", _detail(message, **extra))


async def _load(rt: Runtime, serial: str | None, user: str | None, realm: str) -> list[LoginToken]:
    return await rt.db.read_sql(lambda tx: login_repo.tokens(tx, serial, user, realm))


async def _pin_matches(token: LoginToken, pin: str) -> bool:
    if not token.pin_hash:
        return pin == ""
    return await verify_password(token.pin_hash, pin)


def _key(rt: Runtime, token: LoginToken) -> bytes:
    return bytes.fromhex(rt.box.open(token.otpkey))


def _otp_right(rt: Runtime, token: LoginToken, challenge: OpenChallenge, otp: str) -> bool:
    return (
        len(otp) == token.otplen
        and otp.isdigit()
        and hotp.matches(_key(rt, token), challenge.counter, token.otplen, otp)
    )


async def _audit(rt: Runtime, subject: _Subject, outcome: Outcome, action: str) -> None:
    serials = ",".join(subject.serials)
    await note(
        rt,
        action=action,
        success=outcome.authentication != "REJECT",
        actor=subject.user,
        target=outcome.authentication,
        info=outcome.detail.message,
        client_ip=subject.ip,
        serial=serials,
        user=subject.user,
        realm=subject.realm,
    )


async def check(rt: Runtime, form: CheckIn, ip: str) -> Outcome:
    """One /validate/check: a challenge, an accept, or a reject."""
    subject = _Subject(form.user or "", form.realm, ip)
    if form.transaction_id:
        outcome = await _answer_challenge(rt, subject, form)
    else:
        outcome = await _pin_or_pin_otp(rt, subject, form)
    await _audit(rt, subject, outcome, "validate_check")
    return outcome


async def trigger(rt: Runtime, form: TriggerIn, ip: str) -> Outcome:
    """Send the SMS without the PIN: the caller checked the first factor itself."""
    tokens = await _load(rt, form.serial, form.user, form.realm)
    subject = _Subject(form.user or "", form.realm, ip, [t.serial for t in tokens])
    usable = [t for t in tokens if t.active and not t.locked]
    if not tokens:
        outcome = _reject(NO_SUCH_TOKEN if form.serial else NO_TOKENS)
    elif not usable:
        outcome = _reject(LOCKED if any(t.locked for t in tokens) else DISABLED)
    else:
        outcome = await _start_challenges(rt, usable, "trigger", ip)
    await _audit(rt, subject, outcome, "validate_triggerchallenge")
    return outcome


async def _answer_challenge(rt: Runtime, subject: _Subject, form: CheckIn) -> Outcome:
    """transaction_id + OTP, decided in one write transaction: the OTP counts once."""
    assert form.transaction_id is not None
    transaction_id, otp, now = form.transaction_id, form.pass_, utcnow()

    def settle(tx: Connection) -> tuple[Outcome, list[str]]:
        pairs = login_repo.challenges_to_answer(
            tx, transaction_id, now, form.serial, form.user, form.realm
        )
        live = [(challenge, token) for challenge, token in pairs if token.active]
        if pairs and not live:
            return _reject(DISABLED), [token.serial for _, token in pairs]
        serials = [token.serial for _, token in live]
        if any(token.locked for _, token in live):
            return _reject(LOCKED), serials
        for challenge, token in live:
            if _otp_right(rt, token, challenge, otp):
                if login_repo.answer(tx, challenge.id, token.serial, challenge.counter):
                    guard.count_answer(tx, token.phone, rt.traffic.clock())
                    return _accepted(token), serials
                break  # another request answered it first: this one is a failure
        if not live:
            serials = [t.serial for t in login_repo.tokens(tx, form.serial, form.user, form.realm)]
            if not serials:
                return _reject(NO_SUCH_TOKEN if form.serial else NO_TOKENS), serials
        login_repo.count_failure(tx, serials)
        return _reject(NO_MATCH), serials

    outcome, subject.serials = await rt.db.write_sql(settle)
    return outcome


def _accepted(token: LoginToken) -> Outcome:
    return Outcome(
        "ACCEPT", _detail(ACCEPTED, serial=token.serial, type="sms", otplen=token.otplen)
    )


async def _accept(rt: Runtime, token: LoginToken, challenge: OpenChallenge) -> Outcome:
    def settle(tx: Connection) -> bool:
        if login_repo.answer(tx, challenge.id, token.serial, challenge.counter):
            guard.count_answer(tx, token.phone, rt.traffic.clock())
            return True
        login_repo.count_failure(tx, [token.serial])  # answered by another request first
        return False

    return _accepted(token) if await rt.db.write_sql(settle) else _reject(NO_MATCH)


async def _settle_traffic(
    rt: Runtime,
    token: LoginToken,
    ip: str,
    hits: list[guard.Hit],
    refused: guard.Refused | None,
) -> None:
    await guard.settle(
        rt, hits, refused, actor=token.username, client_ip=ip, serial=token.serial,
        user=token.username, realm=token.realm,
    )  # fmt: skip


async def _count_failures(rt: Runtime, serials: list[str]) -> None:
    await rt.db.write_sql(lambda tx: login_repo.count_failure(tx, serials))


async def _pin_or_pin_otp(rt: Runtime, subject: _Subject, form: CheckIn) -> Outcome:
    now = utcnow()

    def load(tx: Connection) -> tuple[list[LoginToken], list[OpenChallenge]]:
        tokens = login_repo.tokens(tx, form.serial, form.user, form.realm)
        serials = [t.serial for t in tokens if t.active]
        return tokens, login_repo.open_challenges(tx, serials, now) if serials else []

    tokens, open_challenges = await rt.db.read_sql(load)
    subject.serials = [t.serial for t in tokens]
    if not tokens:
        return _reject(NO_SUCH_TOKEN if form.serial else NO_TOKENS)
    active = [t for t in tokens if t.active]
    if not active:
        return _reject(DISABLED)
    open_by_serial: dict[str, list[OpenChallenge]] = {}
    for challenge in open_challenges:
        open_by_serial.setdefault(challenge.serial, []).append(challenge)

    password = form.pass_
    pin_only: list[LoginToken] = []
    pin_right_otp_wrong = False
    for token in active:
        # Try first what this request most likely is, so one PIN hash usually decides:
        # with an open challenge PIN+OTP, without one the PIN alone.
        attempts = ["pin+otp", "pin"] if open_by_serial.get(token.serial) else ["pin", "pin+otp"]
        for attempt in attempts:
            if attempt == "pin":
                if await _pin_matches(token, password):
                    pin_only.append(token)
                    break
                continue
            pin, otp = password[: -token.otplen], password[-token.otplen :]
            if len(password) < token.otplen or not await _pin_matches(token, pin):
                continue
            if token.locked:
                return _reject(LOCKED, serial=token.serial)
            for challenge in open_by_serial.get(token.serial, []):
                if _otp_right(rt, token, challenge, otp):
                    return await _accept(rt, token, challenge)
            pin_right_otp_wrong = True
            break

    if pin_only:
        if all(t.locked for t in pin_only):
            return _reject(LOCKED, serial=pin_only[0].serial)
        unlocked = [t for t in pin_only if not t.locked]
        return await _start_challenges(rt, unlocked, "challenge", subject.ip)
    await _count_failures(rt, [t.serial for t in active])
    return _reject(WRONG_OTP if pin_right_otp_wrong else WRONG_PIN)


async def _start_challenges(
    rt: Runtime, tokens: list[LoginToken], source: str, ip: str
) -> Outcome:
    config = await system_config.sms(rt)
    transaction_id = f"{secrets.randbelow(10**20):020d}"
    results = await asyncio.gather(
        *(_challenge_one(rt, token, transaction_id, source, config, ip) for token in tokens)
    )
    started: list[tuple[LoginToken, str, datetime]] = []
    refusals: list[guard.Refused] = []
    for token, result in zip(tokens, results, strict=True):
        if isinstance(result, guard.Refused):
            if result.kind == "cooldown":  # the open challenge is answered again
                opened = datetime.fromtimestamp(result.started_at, UTC)
                started.append((token, result.transaction_id, opened))
            else:
                refusals.append(result)
        elif result:
            started.append((token, transaction_id, utcnow()))
    if not started:
        return _reject(refusals[0].message if refusals else SMS_FAILED)
    timeout = timedelta(seconds=config.provider_timeout)
    valid_until = (min(opened for _, _, opened in started) + timeout).isoformat()
    challenges = [
        ChallengeInfo(serial=t.serial, transaction_id=tid, message=CHALLENGE_MESSAGE)
        for t, tid, _ in started
    ]
    outcome = Outcome(
        "CHALLENGE",
        _detail(
            CHALLENGE_MESSAGE,
            serial=started[0][0].serial,
            type="sms",
            transaction_id=started[0][1],
            transaction_ids=[tid for _, tid, _ in started],
            multi_challenge=challenges,
            messages=[CHALLENGE_MESSAGE] * len(started),
            attributes={"valid_until": valid_until},
            client_mode="interactive",
            preferred_client_mode="interactive",
        ),
        challenges=len(started),
    )
    return outcome


async def _challenge_one(
    rt: Runtime,
    token: LoginToken,
    transaction_id: str,
    source: str,
    config: system_config.SmsConfig,
    ip: str,
) -> bool | guard.Refused:
    """Pass traffic control, reserve a counter, store the challenge, send the OTP; undo the
    challenge if the send fails. A refusal by traffic control comes back, nothing written."""
    gateway = token.sms_identifier or config.identifier
    if not gateway:
        return False
    now = utcnow()
    purge = _purge_due()
    who = token.username + "@" + token.realm if token.username else token.serial
    try:
        plan = await guard.plan(
            rt, phone=token.phone, user=who, ip=ip, serial=token.serial,
            transaction_id=transaction_id,
        )  # fmt: skip
    except guard.Refused as refused:
        await _settle_traffic(rt, token, ip, refused.hits, refused)
        return refused

    def open_challenge(tx: Connection) -> tuple[int, int, list[guard.Hit]]:
        hits = plan.admit(tx)  # raises Refused: this transaction writes nothing
        if purge:
            login_repo.purge_expired(tx, now - _KEEP_EXPIRED)
        counter = login_repo.reserve_counter(tx, token.serial)
        if not config.concurrent_challenges:
            login_repo.close_open_challenges(tx, token.serial)
        challenge_id = login_repo.add_challenge(
            tx,
            transaction_id=transaction_id,
            serial=token.serial,
            counter=counter,
            created_at=now,
            expires_at=now + timedelta(seconds=config.provider_timeout),
        )
        return challenge_id, counter, hits

    try:
        challenge_id, counter, hits = await rt.db.write_sql(open_challenge)
    except guard.Refused as refused:
        await _settle_traffic(rt, token, ip, refused.hits, refused)
        return refused
    if hits:
        await _settle_traffic(rt, token, ip, hits, None)
    otp = hotp.hotp(_key(rt, token), counter, token.otplen)
    text = (
        config.text.replace("<otp>", otp)
        .replace("{otp}", otp)
        .replace("{serial}", token.serial)
        .replace("{user}", token.username)
        .replace("{realm}", token.realm)
    )
    outgoing = dispatch.Outgoing(
        gateway=gateway,
        phone=token.phone,
        message=text,
        source=source,
        serial=token.serial,
        transaction_id=transaction_id,
    )
    try:
        delivered = await dispatch.deliver(rt, outgoing)
    except NotFound:
        delivered = False  # the token's gateway was deleted
    if not delivered:
        await rt.db.write_sql(lambda tx: login_repo.drop_challenge(tx, challenge_id))
    return delivered


_KEEP_EXPIRED = timedelta(hours=1)  # expired challenges linger this long, then go
_PURGE_EVERY = 60.0  # seconds between purges by one process
_next_purge = 0.0


def _purge_due() -> bool:
    """Whether this challenge should also delete long-expired ones: one in a minute does."""
    global _next_purge
    now = time.monotonic()
    if now < _next_purge:
        return False
    _next_purge = now + _PURGE_EVERY
    return True
