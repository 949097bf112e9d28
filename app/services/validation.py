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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from sqlalchemy.orm import Session

from app.db import token_repo
from app.db.tables import Challenge, Token, utcnow
from app.errors import NotFound
from app.runtime import Runtime
from app.schemas.validate import ChallengeInfo, CheckDetail, CheckIn, TriggerIn
from app.security import hotp
from app.security.passwords import verify_sync
from app.services import dispatch, system_config
from app.services.audit import note

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
    tokens: list[Token] = field(default_factory=list)


def _detail(message: str, **extra: object) -> CheckDetail:
    return CheckDetail(message=message, threadid=threading.get_ident(), **extra)


def _reject(message: str, **extra: object) -> Outcome:
    return Outcome("REJECT", _detail(message, **extra))


def _locked(token: Token) -> bool:
    return token.failcount >= token.maxfail


async def _load(rt: Runtime, serial: str | None, user: str | None, realm: str) -> list[Token]:
    if serial:
        token = await rt.db.read(lambda tx: token_repo.by_serial(tx, serial))
        return [token] if token else []
    assert user is not None
    return list(await rt.db.read(lambda tx: token_repo.of_user(tx, user, realm)))


async def _pin_matches(token: Token, pin: str) -> bool:
    if not token.pin_hash:
        return pin == ""
    # argon2 releases the GIL: a thread runs it beside the event loop and the other core.
    return await asyncio.to_thread(verify_sync, token.pin_hash, pin)


def _key(rt: Runtime, token: Token) -> bytes:
    return bytes.fromhex(rt.box.open(token.otpkey))


async def _audit(rt: Runtime, subject: _Subject, outcome: Outcome, action: str) -> None:
    serials = ",".join(t.serial for t in subject.tokens)
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
    tokens = await _load(rt, form.serial, form.user, form.realm)
    subject = _Subject(form.user or "", form.realm, ip, tokens)
    if not tokens:
        outcome = _reject(NO_SUCH_TOKEN if form.serial else NO_TOKENS)
    elif form.transaction_id:
        outcome = await _answer_challenge(rt, tokens, form.transaction_id, form.pass_)
    else:
        outcome = await _pin_or_pin_otp(rt, subject, form.pass_)
    await _audit(rt, subject, outcome, "validate_check")
    return outcome


async def trigger(rt: Runtime, form: TriggerIn, ip: str) -> Outcome:
    """Send the SMS without the PIN: the caller checked the first factor itself."""
    tokens = await _load(rt, form.serial, form.user, form.realm)
    subject = _Subject(form.user or "", form.realm, ip, tokens)
    usable = [t for t in tokens if t.active and not _locked(t)]
    if not tokens:
        outcome = _reject(NO_SUCH_TOKEN if form.serial else NO_TOKENS)
    elif not usable:
        outcome = _reject(LOCKED if any(_locked(t) for t in tokens) else DISABLED)
    else:
        outcome = await _start_challenges(rt, usable, "trigger")
    await _audit(rt, subject, outcome, "validate_triggerchallenge")
    return outcome


async def _answer_challenge(
    rt: Runtime, tokens: list[Token], transaction_id: str, otp: str
) -> Outcome:
    by_serial = {t.serial: t for t in tokens}
    now = utcnow()
    challenges = [
        c
        for c in await rt.db.read(
            lambda tx: token_repo.challenges_of_transaction(tx, transaction_id, now)
        )
        if c.serial in by_serial
    ]
    live = [c for c in challenges if by_serial[c.serial].active]
    if challenges and not live:
        return _reject(DISABLED)
    if any(_locked(by_serial[c.serial]) for c in live):
        return _reject(LOCKED)
    for challenge in live:
        token = by_serial[challenge.serial]
        if _otp_fits(token, otp) and hotp.matches(
            _key(rt, token), challenge.counter, token.otplen, otp
        ):
            return await _accept(rt, token, challenge)
    await _count_failures(rt, [c.serial for c in live] or list(by_serial))
    return _reject(NO_MATCH)


def _otp_fits(token: Token, otp: str) -> bool:
    return len(otp) == token.otplen and otp.isdigit()


async def _accept(rt: Runtime, token: Token, challenge: Challenge) -> Outcome:
    assert challenge.id is not None
    challenge_id = challenge.id
    won = await rt.db.write(
        lambda tx: token_repo.answer(tx, challenge_id, token.serial, challenge.counter)
    )
    if not won:
        # Another request answered this challenge first: an OTP counts once.
        await _count_failures(rt, [token.serial])
        return _reject(NO_MATCH)
    return Outcome(
        "ACCEPT", _detail(ACCEPTED, serial=token.serial, type="sms", otplen=token.otplen)
    )


async def _count_failures(rt: Runtime, serials: list[str]) -> None:
    await rt.db.write(lambda tx: token_repo.count_failure(tx, serials))


async def _pin_or_pin_otp(rt: Runtime, subject: _Subject, password: str) -> Outcome:
    active = [t for t in subject.tokens if t.active]
    if not active:
        return _reject(DISABLED)
    now = utcnow()
    serials = [t.serial for t in active]
    open_by_serial: dict[str, list[Challenge]] = {}
    for challenge in await rt.db.read(lambda tx: token_repo.open_challenges(tx, serials, now)):
        open_by_serial.setdefault(challenge.serial, []).append(challenge)

    pin_only: list[Token] = []
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
            if _locked(token):
                return _reject(LOCKED, serial=token.serial)
            for challenge in open_by_serial.get(token.serial, []):
                if _otp_fits(token, otp) and hotp.matches(
                    _key(rt, token), challenge.counter, token.otplen, otp
                ):
                    return await _accept(rt, token, challenge)
            pin_right_otp_wrong = True
            break

    if pin_only:
        if all(_locked(t) for t in pin_only):
            return _reject(LOCKED, serial=pin_only[0].serial)
        return await _start_challenges(rt, [t for t in pin_only if not _locked(t)], "challenge")
    await _count_failures(rt, serials)
    return _reject(WRONG_OTP if pin_right_otp_wrong else WRONG_PIN)


async def _start_challenges(rt: Runtime, tokens: list[Token], source: str) -> Outcome:
    config = await system_config.sms(rt)
    transaction_id = f"{secrets.randbelow(10**20):020d}"
    sent = await asyncio.gather(
        *(_challenge_one(rt, token, transaction_id, source, config) for token in tokens)
    )
    started = [token for token, ok in zip(tokens, sent, strict=True) if ok]
    if not started:
        return _reject(SMS_FAILED)
    valid_until = (utcnow() + timedelta(seconds=config.provider_timeout)).isoformat()
    challenges = [
        ChallengeInfo(serial=t.serial, transaction_id=transaction_id, message=CHALLENGE_MESSAGE)
        for t in started
    ]
    outcome = Outcome(
        "CHALLENGE",
        _detail(
            CHALLENGE_MESSAGE,
            serial=started[0].serial,
            type="sms",
            transaction_id=transaction_id,
            transaction_ids=[transaction_id] * len(started),
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
    token: Token,
    transaction_id: str,
    source: str,
    config: system_config.SmsConfig,
) -> bool:
    """Reserve a counter, store the challenge, send the OTP; undo the challenge if it fails."""
    gateway = token.sms_identifier or config.identifier
    now = utcnow()

    def open_challenge(tx: Session) -> tuple[int, int]:
        token_repo.purge_expired(tx, now - timedelta(hours=1))
        counter = token_repo.reserve_counter(tx, token.serial)
        if not config.concurrent_challenges:
            token_repo.close_open_challenges(tx, token.serial)
        challenge = Challenge(
            transaction_id=transaction_id,
            serial=token.serial,
            counter=counter,
            created_at=now,
            expires_at=now + timedelta(seconds=config.provider_timeout),
        )
        token_repo.add_challenge(tx, challenge)
        assert challenge.id is not None
        return challenge.id, counter

    if not gateway:
        return False
    challenge_id, counter = await rt.db.write(open_challenge)
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
        record = await dispatch.send(rt, outgoing)
        delivered = record.status == "sent"
    except NotFound:
        delivered = False  # the token's gateway was deleted
    if not delivered:
        await rt.db.write(lambda tx: token_repo.drop_challenge(tx, challenge_id))
    return delivered
