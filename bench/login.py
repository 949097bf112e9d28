"""Login-load benchmark of the SMS OTP token: the challenge step, then the answer step.

    python -m bench.login [--users 1000] [--concurrency 100] [--delay 0.2] [--workers 2]
                          [--database-url URL] [--rules on|off]

Starts the service (uvicorn, SQLite in a temporary directory unless --database-url) and a
local HTTP sink answering after --delay seconds, each in its own process, enrols one SMS
token per user, then drives /validate/check from this process over keep-alive
connections: first every user's PIN (each sends an SMS), then every transaction_id with
the OTP read back from what arrived at the sink. Prints one JSON line per step.

Traffic control runs as shipped (`--rules on`, every default rule counting every
challenge) with two limits lifted that one load generator must exceed by design: the
per-IP limit (all load comes from 127.0.0.1) and the conversion guard's minimum (every
challenge is sent before the first is answered, which is what pumping looks like).
`--rules off` switches traffic control off, for the difference.

The PIN hash is the one CPU cost that should matter, so the challenge step's ceiling is
min(concurrency / gateway delay, cores / PIN-verify time), the verify time measured with
every core verifying at once (pin_verify_ms; pin_verify_ms_one_core_busy is the time on
an otherwise idle machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from urllib.parse import parse_qs

import aiohttp

from app.security.passwords import hash_sync, verify_sync
from bench.harness import Client, drive, emit, service_process, sink_process

REALM = "bench"


def pin_verify_seconds(threads: int, rounds: int = 100) -> float:
    """Seconds of one core per PIN verification, with `threads` verifying side by side.

    With every core verifying, each verification takes a little longer than on an idle
    machine (the cores share caches and memory bandwidth); that is the rate the cores can
    sustain, so the ceiling uses it.
    """
    hashed = hash_sync("1234")

    def verify_rounds() -> None:
        for _ in range(rounds):
            verify_sync(hashed, "1234")

    workers = [threading.Thread(target=verify_rounds) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - started) / rounds


def phone_of(n: int) -> str:
    """Distinct numbers with distinct prefixes (the number without its last 3 digits)."""
    return f"+49170{n:04d}{n % 1000:03d}"


RULES_OFF = {
    "refused_types": [],
    "resend_cooldown": 0,
    "conversion": {"mode": "off"},
    "unlisted_countries": "allow",
}


async def traffic_rules(client: Client, on: bool, users: int) -> None:
    if on:
        lifted = {"name": "ip_10m", "scope": "ip", "window": 600, "limit": 10 * users}
        await client.call("POST", "/traffic/rules", lifted)
        await client.call("POST", "/traffic/settings", {"conversion": {"min_sent": 10 * users}})
        return
    rules = (await client.call("GET", "/traffic/rules"))["result"]["value"]
    for rule in rules:
        rule.pop("default")
        await client.call("POST", "/traffic/rules", {**rule, "active": False})
    await client.call("POST", "/traffic/settings", RULES_OFF)


def answer_bodies(
    users: list[str], transaction_ids: list[str | None], sms: dict[str, list[str]]
) -> list[dict[str, object]]:
    """Each user's answer: its transaction_id and the OTP that reached its number."""
    return [
        {
            "user": user,
            "realm": REALM,
            "transaction_id": transaction_id,
            "pass": sms.get(phone_of(n), ["000000"])[-1],
        }
        for n, (user, transaction_id) in enumerate(zip(users, transaction_ids, strict=True))
    ]


async def sms_by_phone(sink: str) -> dict[str, list[str]]:
    async with aiohttp.ClientSession() as session, session.get(sink + "/__bodies") as reply:
        bodies = await reply.json()
    messages: dict[str, list[str]] = {}
    for body in bodies:
        fields = parse_qs(body)
        messages.setdefault(fields["to"][0], []).append(fields["text"][0])
    return messages


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("SMSGW_BENCH_DATABASE_URL"))
    parser.add_argument("--rules", choices=["on", "off"], default="on")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    # The median of five measurements: one can catch the machine busy.
    verify_alone = statistics.median(pin_verify_seconds(1) for _ in range(5))
    verify = statistics.median(pin_verify_seconds(cores) for _ in range(5))
    ceiling = min(args.concurrency / args.delay, cores / verify)

    with (
        service_process(args.database_url, args.workers) as service,
        sink_process(args.delay, record=True) as sink,
    ):
        client = Client(service, args.concurrency)
        try:
            await client.login()
            await client.call(
                "POST",
                "/smsgateway",
                {
                    "name": "bench-sms",
                    "module": "providers.http.HttpProvider",
                    "options": {
                        "URL": sink + "/send",
                        "HTTP_METHOD": "POST",
                        "to": "{phone}",
                        "text": "{otp}",
                        "TIMEOUT": "30",
                    },
                },
            )
            await client.call("POST", "/system/setConfig", {"sms.identifier": "bench-sms"})
            await traffic_rules(client, args.rules == "on", args.users)
            users = [f"user{n:05d}" for n in range(args.users)]
            enrolment = [
                {"type": "sms", "user": user, "realm": REALM, "pin": "1234", "phone": phone_of(n)}
                for n, user in enumerate(users)
            ]
            enrolled, _ = await drive(client, "POST", "/token/init", enrolment, 20)
            assert enrolled.failed == 0, "enrolment failed"

            pins = [{"user": user, "realm": REALM, "pass": "1234"} for user in users]
            challenge, answers = await drive(
                client, "POST", "/validate/check", pins, args.concurrency, ramp=args.delay
            )
            transaction_ids = [(a or {}).get("detail", {}).get("transaction_id") for a in answers]
            sms = await sms_by_phone(sink)
            emit(
                {
                    "bench": "login_challenge",
                    "users": args.users,
                    "concurrency": args.concurrency,
                    "gateway_delay_ms": args.delay * 1000,
                    "workers": args.workers,
                    "traffic_rules": args.rules,
                    **challenge.figures(),
                    "challenges": sum(1 for t in transaction_ids if t),
                    "sms_at_sink": sum(len(v) for v in sms.values()),
                    "pin_verify_ms": round(verify * 1000, 1),
                    "pin_verify_ms_one_core_busy": round(verify_alone * 1000, 1),
                    "ceiling_per_s": round(ceiling, 1),
                    "of_ceiling": round(challenge.figures().get("steady_per_s", 0) / ceiling, 3),
                }
            )

            replies = answer_bodies(users, transaction_ids, sms)
            answer_run, results = await drive(
                client, "POST", "/validate/check", replies, args.concurrency
            )
            accepted = sum(1 for r in results if (r or {}).get("result", {}).get("value") is True)
            _replayed, again = await drive(
                client, "POST", "/validate/check", replies[:100], args.concurrency
            )
            emit(
                {
                    "bench": "login_answer",
                    "users": args.users,
                    "concurrency": args.concurrency,
                    "workers": args.workers,
                    **answer_run.figures(),
                    "accepted": accepted,
                    "replays_accepted": sum(
                        1 for r in again if (r or {}).get("result", {}).get("value") is True
                    ),
                    "lost_sms": args.users - sum(len(v) for v in sms.values()),
                }
            )
        finally:
            await client.close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
