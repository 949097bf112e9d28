"""What traffic control costs a challenge: CPU and statements, measured in one process.

    python -m bench.traffic [--checks 1000] [--database-url URL]

Runs the check of `app.traffic.guard` (plan, then admit inside a write transaction) for
--checks challenges to distinct users and numbers with every default rule on (the limits
one load generator must exceed lifted, as in
bench.login), and the
same write transaction without the check (one row written, like a challenge's) as the
yardstick. Prints one JSON line: CPU
microseconds per check (this process: the planning in Python, the upsert's binding and
the driver; on SQLite the database's own work too) and statements per check, counted at
the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

from app.main import build_runtime
from app.migrations import upgrade
from app.runtime import Runtime
from app.settings import Settings
from app.traffic import guard, repo
from app.traffic.settings import ConversionGuard, RuleIn, TrafficSettingsIn
from bench.harness import emit


def phone_of(n: int) -> str:
    return f"+49170{n:04d}{n % 1000:03d}"


def _as_in_bench_login(tx: Connection, checks: int) -> None:
    """The limits one load generator must exceed lifted, as bench.login does."""
    repo.save_rule(tx, RuleIn(name="ip_10m", scope="ip", window=600, limit=10 * checks))
    conversion = ConversionGuard(min_sent=10 * checks)
    repo.save_settings(tx, TrafficSettingsIn(conversion=conversion))


class Statements:
    """Counts the statements every engine of the runtime sends to the database."""

    def __init__(self) -> None:
        self.count = 0
        # Every engine of the process: the database's, whatever its dialect.
        event.listen(Engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


async def _measure(
    rt: Runtime, statements: Statements, checks: int, work: Callable[[int], Any]
) -> tuple[float, float]:
    """CPU µs and statements per call of `work`, sequentially (no waiting hidden in CPU)."""
    before_cpu, before_statements = time.process_time(), statements.count
    for n in range(checks):
        await work(n)
    cpu = (time.process_time() - before_cpu) / checks * 1e6
    return cpu, (statements.count - before_statements) / checks


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("SMSGW_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smsgw-bench-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), database_url=args.database_url)
        rt = build_runtime(settings)
        await upgrade(rt.db.url)
        await rt.db.write(lambda tx: _as_in_bench_login(tx.connection(), args.checks))
        statements = Statements()
        await rt.traffic.policy()  # the rules are cached, as on a warm service

        def challenge_like(tx: Session) -> None:
            # What the challenge's own transaction writes anyway: one row changes.
            tx.execute(text("UPDATE config SET value = value WHERE key = 'bench'"))
            tx.execute(text("INSERT INTO config (key, value) VALUES ('bench', '') "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"))  # fmt: skip

        async def bare(n: int) -> None:
            await rt.db.write(challenge_like)

        async def checked(n: int) -> None:
            plan = await guard.plan(
                rt, phone=phone_of(n), user=f"user{n:05d}@bench", ip="192.0.2.1",
                serial=f"PISM{n:08d}", transaction_id=f"{n:020d}",
            )  # fmt: skip

            def admit(tx: Session) -> None:
                challenge_like(tx)
                plan.admit(tx)

            await rt.db.write(admit)

        await _measure(rt, statements, 50, bare)  # warm: pools, statement caches
        base_cpu, base_statements = await _measure(rt, statements, args.checks, bare)
        cpu, count = await _measure(rt, statements, args.checks, checked)
        emit(
            {
                "bench": "traffic_check",
                "database": "postgresql" if "postgres" in rt.db.url else "sqlite",
                "checks": args.checks,
                "counters_per_check": len(
                    (await guard.plan(rt, phone=phone_of(0), user="u", ip="i", serial="s")).bumps
                ),
                "cpu_us_per_check": round(cpu - base_cpu, 1),
                "statements_per_check": round(count - base_statements, 2),
                "yardstick_cpu_us_per_challenge_transaction": round(base_cpu, 1),
            }
        )
        await rt.db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
