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
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from app.db import login_repo
from app.db.login_repo import LoginToken, OpenChallenge
from app.db.prepared import savepoint
from app.db.tables import utcnow
from app.delivery import config as delivery_config
from app.delivery import intake
from app.delivery.content import challenge_text
from app.delivery.intake import parse_route
from app.observability.logins import observe_login
from app.runtime import Runtime
from app.schemas.validate import ChallengeInfo, CheckDetail, CheckIn, TriggerIn
from app.security import hotp
from app.security.passwords import (
    DUMMY_HASH,
    admission,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.services import audit, system_config
from app.traffic import guard

CHALLENGE_MESSAGE = "Enter the OTP from the SMS:"
SMS_FAILED = "The PIN was correct, but the SMS could not be sent!"
NO_TOKENS = "The user has no tokens assigned"
NO_SUCH_TOKEN = "The token does not exist"
WRONG_PIN = "wrong otp pin"
WRONG_OTP = "wrong otp value"
PREVIOUS_OTP = ". previous otp used again"  # privacyIDEA appends it; clients match on it
_PREVIOUS_WINDOW = 10  # how many earlier counters privacyIDEA looks back
NO_MATCH = "Response did not match the challenge."
LOCKED = "Failcounter exceeded"
DISABLED = "The token is disabled"
ACCEPTED = "matching 1 tokens"
DEFAULT_OTPLEN = 6

Authentication = Literal["ACCEPT", "REJECT", "CHALLENGE"]


@dataclass
class Outcome:
    authentication: Authentication
    detail: CheckDetail
    challenges: int = 0
    reason: str = ""  # for the audit trail when the answer deliberately says less

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


def _reject(message: str, *, reason: str = "", **extra: object) -> Outcome:
    return Outcome("REJECT", _detail(message, **extra), reason=reason)


def _cleared_before(rt: Runtime, now: datetime) -> datetime:
    """Failures before this no longer count (the fail counter's clear timeout)."""
    seconds = rt.settings.failcounter_clear_seconds
    return now - timedelta(seconds=seconds) if seconds else _NEVER


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


async def _pin_matches(rt: Runtime, token: LoginToken, pin: str) -> bool:
    if not token.pin_hash:
        await verify_password(DUMMY_HASH, pin)  # no PIN costs what a PIN costs
        return pin == ""
    right = await verify_password(token.pin_hash, pin)
    if right and needs_rehash(token.pin_hash):
        rehashed = await hash_password(pin, lane="pin")
        await rt.db.write(
            lambda tx: login_repo.rehash_pin(tx, token.serial, token.pin_hash, rehashed)
        )
    return right


async def _spend_a_wrong_pin(password: str, otplen: int = DEFAULT_OTPLEN) -> None:
    """Hash as often as a wrong PIN against one token does, so the answer's timing does not
    tell an unknown user, a locked or disabled token and a wrong PIN apart."""
    for _ in range(2 if len(password) >= otplen else 1):
        await verify_password(DUMMY_HASH, password)


def _key(rt: Runtime, token: LoginToken) -> bytes:
    return bytes.fromhex(rt.box.open(token.otpkey, f"the seed of token {token.serial}"))


def _otp_right(rt: Runtime, token: LoginToken, challenge: OpenChallenge, otp: str) -> bool:
    return (
        len(otp) == token.otplen
        and otp.isdigit()
        and hotp.matches(_key(rt, token), challenge.counter, token.otplen, otp)
    )


def _audit_row(subject: _Subject, outcome: Outcome, action: str) -> dict[str, object]:
    return audit.entry(
        action=action,
        success=outcome.authentication != "REJECT",
        actor=subject.user,
        target=outcome.authentication,
        info=outcome.reason or outcome.detail.message,
        client_ip=subject.ip,
        serial=",".join(subject.serials),
        user=subject.user,
        realm=subject.realm,
    )


async def _audit(rt: Runtime, subject: _Subject, outcome: Outcome, action: str) -> None:
    # A challenge's SMS is an outbox row already, written with the challenge itself.
    await audit.note(rt, _audit_row(subject, outcome, action))


async def check(rt: Runtime, form: CheckIn, ip: str) -> Outcome:
    """One /validate/check: a challenge, an accept, or a reject."""
    subject = _Subject(form.user or "", form.realm, ip)
    if form.transaction_id:
        # Audited in the transaction that decides it.
        outcome = await _answer_challenge(rt, subject, form)
    else:
        outcome = await _pin_or_pin_otp(rt, subject, form)
        await _audit(rt, subject, outcome, "validate_check")
    observe_login(outcome.authentication, outcome.detail.message, outcome.challenges, "challenge")
    return outcome


async def trigger(rt: Runtime, form: TriggerIn, ip: str) -> Outcome:
    """Send the SMS without the PIN: the caller checked the first factor itself."""
    tokens = await rt.db.read(lambda tx: login_repo.tokens(tx, form.serial, form.user, form.realm))
    subject = _Subject(form.user or "", form.realm, ip, [t.serial for t in tokens])
    cleared_before = _cleared_before(rt, utcnow())
    usable = [t for t in tokens if t.active and not t.locked(cleared_before)]
    if not tokens:
        outcome = _reject(NO_SUCH_TOKEN if form.serial else NO_TOKENS)
    elif not usable:
        locked = any(t.locked(cleared_before) for t in tokens)
        outcome = _reject(LOCKED if locked else DISABLED)
    else:
        outcome = await _start_challenges(rt, usable, "trigger", ip=ip)
    observe_login(outcome.authentication, outcome.detail.message, outcome.challenges, "trigger")
    await _audit(rt, subject, outcome, "validate_triggerchallenge")
    return outcome


async def _answer_challenge(rt: Runtime, subject: _Subject, form: CheckIn) -> Outcome:
    """transaction_id + OTP, decided in one write transaction with its audit row: the OTP
    counts once.

    Only a guess at an open challenge counts as a failure: a made-up or stale
    transaction_id has no OTP to guess, so it can neither succeed nor lock anybody out.
    The transaction is group-committed with other logins' answers: under load, one commit
    (SQLite's one writer at a time) serves many answers.
    """
    assert form.transaction_id is not None
    transaction_id, otp, now = form.transaction_id, form.pass_, utcnow()
    cleared_before = _cleared_before(rt, now)

    def decide(tx: Session) -> tuple[Outcome, list[str]]:
        pairs = login_repo.challenges_to_answer(
            tx, transaction_id, now, form.serial, form.user, form.realm
        )
        serials = sorted({token.serial for _, token in pairs})
        reserved = login_repo.reserve_serials(tx, serials, now, cleared_before)
        if not reserved:
            reason = NO_MATCH if not pairs else "locked or disabled"
            return _reject(NO_MATCH, reason=reason), serials
        for challenge, token in pairs:
            if token.serial in reserved and _otp_right(rt, token, challenge, otp):
                if login_repo.answer(tx, challenge.id, token.serial, challenge.counter):
                    login_repo.give_back(tx, sorted(reserved - {token.serial}))
                    guard.count_answer(tx, token.phone, rt.traffic.clock())
                    return _accepted(token), serials
                break  # another request answered it first: this one is a failure
        return _reject(NO_MATCH), serials

    def settle(tx: Session) -> Outcome:
        outcome, serials = decide(tx)
        audited = _Subject(subject.user, subject.realm, subject.ip, serials)
        audit.add(tx, _audit_row(audited, outcome, "validate_check"))
        return outcome

    return await rt.delivery.group.run(settle)


def _accepted(token: LoginToken) -> Outcome:
    return Outcome(
        "ACCEPT", _detail(ACCEPTED, serial=token.serial, type="sms", otplen=token.otplen)
    )


async def _accept(
    rt: Runtime, token: LoginToken, challenge: OpenChallenge, others: list[str]
) -> Outcome:
    def settle(tx: Session) -> bool:
        login_repo.give_back(tx, others)
        # Answered by another request first: this one stays a counted failure.
        answered = login_repo.answer(tx, challenge.id, token.serial, challenge.counter)
        if answered:
            guard.count_answer(tx, token.phone, rt.traffic.clock())
        return answered

    return _accepted(token) if await rt.db.write(settle) else _reject(NO_MATCH)


async def _give_back(rt: Runtime, serials: list[str]) -> None:
    if serials:
        await rt.db.write(lambda tx: login_repo.give_back(tx, serials))


@dataclass
class _Guess:
    """What the PIN hashes said: the tokens checked and how each fared."""

    tokens: list[LoginToken]
    pin_only: list[LoginToken] = field(default_factory=list)
    otp_wrong: list[tuple[LoginToken, str]] = field(default_factory=list)  # with the OTP tried
    accept: tuple[LoginToken, OpenChallenge] | None = None


async def _pin_or_pin_otp(rt: Runtime, subject: _Subject, form: CheckIn) -> Outcome:
    """PIN (starts a challenge) or PIN+OTP; every guess is reserved before it is checked."""
    with admission("pin"):  # bounds the requests waiting for a PIN hash, not the SMS sends
        guess = await _check_pin(rt, subject, form)
    if not guess.tokens:
        reason = "locked or disabled" if subject.serials else NO_TOKENS
        return _reject(WRONG_PIN, reason=reason)
    serials = [t.serial for t in guess.tokens]
    if guess.accept:
        token, challenge = guess.accept
        return await _accept(rt, token, challenge, [s for s in serials if s != token.serial])
    if guess.pin_only or guess.otp_wrong:
        # A right PIN is no failure of the tokens it did not match: only a wrong OTP counts.
        # A challenge gives its own token's reservation back in the transaction opening it.
        keep = {*(t.serial for t, _ in guess.otp_wrong), *(t.serial for t in guess.pin_only)}
        await _give_back(rt, [s for s in serials if s not in keep])
    if guess.pin_only:
        return await _start_challenges(
            rt, guess.pin_only, "challenge", ip=subject.ip, give_back=True
        )
    if len(guess.otp_wrong) == 1 and _previous_otp(rt, *guess.otp_wrong[0]):
        return _reject(WRONG_OTP + PREVIOUS_OTP)
    return _reject(WRONG_OTP if guess.otp_wrong else WRONG_PIN)


async def _check_pin(rt: Runtime, subject: _Subject, form: CheckIn) -> _Guess:
    now = utcnow()
    cleared_before = _cleared_before(rt, now)
    password = form.pass_

    def reserve(tx: Session) -> tuple[list[LoginToken], list[OpenChallenge], list[str]]:
        tokens = login_repo.reserve_attempts(
            tx, form.serial, form.user, form.realm, now, cleared_before
        )
        if not tokens:
            return [], [], login_repo.serials_of(tx, form.serial, form.user, form.realm)
        serials = [t.serial for t in tokens]
        return tokens, login_repo.open_challenges(tx, serials, now), serials

    # Group-committed with other logins' writes: committed, so counted, before any hash.
    tokens, open_challenges, subject.serials = await rt.delivery.group.run(reserve)
    guess = _Guess(tokens)
    if not tokens:
        # Unknown user, or every token locked or disabled: one answer, decided before any
        # PIN is looked at, so a locked token tells nothing about the PIN.
        await _spend_a_wrong_pin(password)
        return guess
    open_by_serial: dict[str, list[OpenChallenge]] = {}
    for challenge in open_challenges:
        open_by_serial.setdefault(challenge.serial, []).append(challenge)

    for token in tokens:
        # Try first what this request most likely is, so one PIN hash usually decides:
        # with an open challenge PIN+OTP, without one the PIN alone.
        attempts = ["pin+otp", "pin"] if open_by_serial.get(token.serial) else ["pin", "pin+otp"]
        for attempt in attempts:
            if attempt == "pin":
                if await _pin_matches(rt, token, password):
                    guess.pin_only.append(token)
                    break
                continue
            pin, otp = password[: -token.otplen], password[-token.otplen :]
            if len(password) < token.otplen or not await _pin_matches(rt, token, pin):
                continue
            for challenge in open_by_serial.get(token.serial, []):
                if _otp_right(rt, token, challenge, otp):
                    guess.accept = (token, challenge)
                    return guess
            guess.otp_wrong.append((token, otp))
            break
    return guess


def _previous_otp(rt: Runtime, token: LoginToken, otp: str) -> bool:
    """Whether the OTP is one already sent (privacyIDEA's is_previous_otp)."""
    if len(otp) != token.otplen or not otp.isdigit():
        return False
    key = _key(rt, token)
    earliest = max(0, token.counter - _PREVIOUS_WINDOW)
    return any(hotp.matches(key, c, token.otplen, otp) for c in range(earliest, token.counter))


async def _start_challenges(
    rt: Runtime,
    tokens: list[LoginToken],
    source: str,
    *,
    ip: str,
    give_back: bool = False,
) -> Outcome:
    config = await system_config.sms(rt)
    transaction_id = f"{secrets.randbelow(10**20):020d}"
    results = await asyncio.gather(
        *(
            _challenge_one(rt, token, transaction_id, source, config, give_back, ip)
            for token in tokens
        )
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
        message = refusals[0].message if refusals else SMS_FAILED
        return _reject(message, transaction_ids=[])  # privacyIDEA's shape: no transaction_id
    timeout = timedelta(seconds=config.provider_timeout)
    valid_until = (min(opened for _, _, opened in started) + timeout).isoformat()
    challenges = [
        ChallengeInfo(
            serial=t.serial,
            transaction_id=tid,
            message=CHALLENGE_MESSAGE,
            attributes={"valid_until": valid_until, "state": None},
        )
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
            attributes={"valid_until": valid_until, "state": None},  # as privacyIDEA
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
    give_back: bool,
    ip: str,
) -> bool | guard.Refused:
    """Pass traffic control, reserve a counter, store the challenge and its outbox message in
    one transaction, then send inline (sync) or leave it to the sender (sms.async); whether
    it goes out. A refusal by traffic control comes back, nothing written.

    With give_back the right PIN's reserved failure is returned in the same transaction
    (or, refused, on its own: a block never counts as a failure)."""
    route = parse_route(token.sms_identifier or config.identifier)
    if not route:
        if give_back:
            await _give_back(rt, [token.serial])
        return False
    delivery = delivery_config.parse(await system_config.values(rt))
    now = utcnow()
    expires_at = now + timedelta(seconds=config.provider_timeout)
    who = token.username + "@" + token.realm if token.username else token.serial
    try:
        plan = await guard.plan(
            rt, phone=token.phone, user=who, ip=ip, serial=token.serial,
            transaction_id=transaction_id,
        )  # fmt: skip
    except guard.Refused as refused:
        return await _refused(rt, token, ip, refused, give_back)
    sealed = intake.Sealed.of(rt.box, token.phone)

    def open_challenge(tx: Session) -> tuple[intake.Admitted, int, list[guard.Hit]] | guard.Refused:
        try:
            # A savepoint, as the transaction is shared with other logins' writes: a
            # refusal takes back its own counts and nothing else.
            with savepoint(tx):
                hits = plan.admit(tx)
        except guard.Refused as refused:
            return refused
        if give_back:
            login_repo.give_back(tx, [token.serial])
        counter = login_repo.reserve_counter(tx, token.serial)
        if not config.concurrent_challenges:
            login_repo.close_open_challenges(tx, token.serial)
        challenge_id = login_repo.add_challenge(
            tx,
            transaction_id=transaction_id,
            serial=token.serial,
            counter=counter,
            created_at=now,
            expires_at=expires_at,
        )
        admitted = intake.admit(
            tx,
            rt.delivery,
            route=route,
            message=sealed,
            deadline=expires_at - delivery_config.margin(delivery, config.provider_timeout),
            inline=not delivery.async_challenges and intake.can_send_inline(rt, route),
            now=now,
            source=source,
            challenge_id=challenge_id,
            serial=token.serial,
            transaction_id=transaction_id,
        )
        return admitted, counter, hits

    opened = await rt.delivery.group.run(open_challenge)
    if isinstance(opened, guard.Refused):
        return await _refused(rt, token, ip, opened, give_back)
    admitted, counter, hits = opened
    if hits:
        await _settle_traffic(rt, token, ip, hits, None)
    text = challenge_text(
        config.text,
        key=_key(rt, token),
        counter=counter,
        otplen=token.otplen,
        serial=token.serial,
        user=token.username,
        realm=token.realm,
    )
    result = await intake.settle(rt, admitted, delivery, text, wait=not delivery.async_challenges)
    return result.status in ("sent", "queued")


async def _refused(
    rt: Runtime, token: LoginToken, ip: str, refused: guard.Refused, give_back: bool
) -> guard.Refused:
    if give_back:
        await _give_back(rt, [token.serial])
    await _settle_traffic(rt, token, ip, refused.hits, refused)
    return refused


async def _settle_traffic(
    rt: Runtime, token: LoginToken, ip: str, hits: list[guard.Hit], refused: guard.Refused | None
) -> None:
    await guard.settle(
        rt, hits, refused, actor=token.username, client_ip=ip, serial=token.serial,
        user=token.username, realm=token.realm,
    )  # fmt: skip
