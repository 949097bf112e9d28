"""The login benchmark's load against privacyIDEA 3.14, for comparison with bench/login.py.

    python -m bench.privacyidea [--users 200] [--concurrency 100] [--delay 0.2]
                                [--workers 2] [--threads 8]
                                [--database-url postgres|sqlite|URL]
                                [--pin-hash shipped|smsgw] [--sign on|off]
                                [--reload-config 60] [--venv PATH] [--python PYTHON] [--keep]

Installs privacyIDEA 3.14 into a virtualenv of its own (never the project's: their
dependencies conflict), with the versions its release pins (the requirements file in its
wheel), gunicorn and psycopg2, unless that virtualenv already has them. Then, in a
temporary directory: a pi.cfg, the encryption key, the audit signing keys, the tables and
an admin, made with privacyIDEA's own `pi-manage`; privacyIDEA under gunicorn on
127.0.0.1; through its REST API a passwd-file resolver with one user per login, a realm,
an HTTP SMS gateway pointing at the local HTTP sink (answering after --delay seconds, as
for bench/login.py), `sms.identifier` naming it, and one SMS token per user with PIN 1234
and a distinct number. The server is then restarted with the configuration in place (so
`PI_CHECK_RELOAD_CONFIG` holds no stale cache) and the load is driven as bench/login.py
drives it: every user's PIN over keep-alive connections (a challenge, an SMS), then every
transaction_id with the OTP read back from the sink. One JSON line per step, with
bench/login.py's keys.

Defaults follow privacyIDEA's production advice (its "Performance considerations"):
processes as many as the cores, each with several threads (its Apache example runs 15;
gunicorn's threaded worker here), log level WARNING, `PI_CHECK_RELOAD_CONFIG` above 0, the
PIN hash, audit signing and response signing as shipped. `--pin-hash smsgw` gives its
argon2id the parameters smsgw uses (t=4, m=9 MiB, p=1) instead of the shipped t=9,
m=64 MiB, p=4, for a comparison of everything but the hash; `--sign off` sets
PI_AUDIT_NO_SIGN and PI_NO_RESPONSE_SIGN, which its documentation names as the way to
trade that safety for throughput. The database is a throwaway PostgreSQL server (as the
tests start one, `fsync=off`): with SQLite, privacyIDEA answers some concurrent writes of
several processes with a 500 ("database is locked"), seen here at 2 and at 4 workers.
`--database-url sqlite` measures that; any other URL must name an empty database. The
database server's own CPU is not in `service_cpu_ms_per_request`, as for bench/login.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from app.security.passwords import MEMORY_KIB, PASSES
from bench.harness import (
    _PROCESS_OF,  # cpu_seconds() and drive() account the process registered here
    ADMIN,
    PASSWORD,
    ROOT,
    Client,
    cpu_seconds,
    drive,
    emit,
    free_port,
    sink_process,
)
from bench.login import answer_bodies, phone_of, sms_by_phone

VERSION = "3.14"
REALM = "bench"
RESOLVER = "bench-users"
GATEWAY = "bench-sms"
# Pinned as in privacyIDEA's own container image, for the same server and driver.
SERVER_PACKAGES = ["gunicorn==23.0.0", "psycopg2-binary==2.9.10"]
PYTHONS = ["python3.12", "python3.13", "python3.11", "python3.10"]  # what 3.14 supports
HASHES = {
    # privacyIDEA's default: argon2 with 9 rounds; passlib adds m=64 MiB and p=4.
    "shipped": {"argon2__rounds": 9},
    # What smsgw uses (app/security/passwords.py), for a like-for-like hash.
    "smsgw": {
        "argon2__rounds": PASSES,
        "argon2__memory_cost": MEMORY_KIB,
        "argon2__parallelism": 1,
    },
}


def quiet_pip(venv: Path, *args: str) -> None:
    # The machine's pip configuration may name local indexes that are absent.
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args],
        stderr=subprocess.PIPE,
        text=True,
    )
    noise = [line for line in run.stderr.splitlines() if "is ignored" not in line]
    if run.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n" + "\n".join(noise))


def installed(venv: Path) -> list[str]:
    """The venv's privacyIDEA and server packages as name==version, as far as present."""
    python = venv / "bin" / "python"
    if not python.exists():
        return []
    names = ["privacyIDEA", *(package.split("==")[0] for package in SERVER_PACKAGES)]
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, sys\n"
            "for name in sys.argv[1:]:\n"
            "    try: print(f'{name}=={m.version(name)}')\n"
            "    except m.PackageNotFoundError: pass",
            *names,
        ],
        capture_output=True,
        text=True,
    )
    return probe.stdout.split()


def wanted() -> list[str]:
    return [f"privacyIDEA=={VERSION}", *SERVER_PACKAGES]


def supported(interpreter: str) -> bool:
    """Whether the interpreter runs (a pyenv shim may not) and is one privacyIDEA supports."""
    if not shutil.which(interpreter):
        return False
    probe = subprocess.run(
        [interpreter, "-c", "import sys; print(sys.version_info[1])"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and f"python3.{probe.stdout.strip()}" in PYTHONS


def ensure_privacyidea(venv: Path, python: str | None) -> None:
    if installed(venv) == wanted():
        return
    interpreter = python or next((p for p in [*PYTHONS, sys.executable] if supported(p)), None)
    if interpreter is None:
        raise RuntimeError(f"privacyIDEA {VERSION} needs one of {', '.join(PYTHONS)}")
    print(f"installing privacyIDEA {VERSION} into {venv} ({interpreter})", file=sys.stderr)
    if not (venv / "bin" / "python").exists():
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    quiet_pip(venv, "--upgrade", "pip")
    quiet_pip(venv, *wanted())
    # The wheel ships the hashed requirements its release was tested with: use those versions
    # rather than whatever is newest today.
    pinned = venv / "lib" / "privacyidea" / "requirements.txt"
    if pinned.exists():
        quiet_pip(venv, "-r", str(pinned))
    if installed(venv) != wanted():
        raise RuntimeError(f"{venv} has {installed(venv)} instead of {wanted()}")


def write_config(
    directory: Path,
    database_url: str,
    hash_params: dict[str, Any],
    sign: bool,
    reload: int,
    threads: int,
) -> Path:
    # The pepper is part of every admin password hash: it must outlive a rewrite of the file.
    keys = directory / "keys.json"
    if not keys.exists():
        keys.write_text(
            json.dumps({"SECRET_KEY": os.urandom(32).hex(), "PI_PEPPER": os.urandom(16).hex()})
        )
    settings: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        **json.loads(keys.read_text()),
        "PI_ENCFILE": str(directory / "enckey"),
        "PI_AUDIT_KEY_PRIVATE": str(directory / "private.pem"),
        "PI_AUDIT_KEY_PUBLIC": str(directory / "public.pem"),
        "PI_LOGFILE": str(directory / "privacyidea.log"),
        "PI_LOGLEVEL": 30,  # WARNING
        "PI_HASH_ALGO_LIST": ["argon2", "pbkdf2_sha512"],
        "PI_HASH_ALGO_PARAMS": hash_params,
        "PI_CHECK_RELOAD_CONFIG": reload,
        "SUPERUSER_REALM": ["superuser"],
        # A request holds two connections at its end (its own and the metrics flush's):
        # SQLAlchemy's default pool (5 + 10 overflow) leaves 8 threads waiting on each
        # other for the pool's 30 s timeout.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2 * threads + 2, "max_overflow": 10},
    }
    if not sign:
        settings |= {"PI_AUDIT_NO_SIGN": True, "PI_NO_RESPONSE_SIGN": True}
    path = directory / "pi.cfg"
    path.write_text("".join(f"{key} = {value!r}\n" for key, value in settings.items()))
    return path


def pi_manage(venv: Path, config: Path, *args: str) -> None:
    env = {**os.environ, "PRIVACYIDEA_CONFIGFILE": str(config)}
    run = subprocess.run(
        [str(venv / "bin" / "pi-manage"), *args], env=env, capture_output=True, text=True
    )
    if run.returncode != 0:
        raise RuntimeError(f"pi-manage {' '.join(args[:2])} failed:\n{run.stderr[-2000:]}")


def initialise(venv: Path, config: Path) -> None:
    pi_manage(venv, config, "setup", "create_enckey")
    pi_manage(venv, config, "setup", "create_audit_keys")
    pi_manage(venv, config, "setup", "create_tables")
    pi_manage(venv, config, "admin", "add", ADMIN, "-p", PASSWORD)


def _tree_cpu(pid: int, url: str) -> float:
    _PROCESS_OF[url] = pid
    try:
        return cpu_seconds(url)
    finally:
        del _PROCESS_OF[url]


def _wait_ready(url: str, process: subprocess.Popen[bytes], workers: int) -> None:
    """Until the server answers and every worker has imported privacyIDEA.

    gunicorn answers as soon as its first worker has the app; the others are still
    importing, which takes seconds of CPU that must not fall into the measurement."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz/livez", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    else:
        raise RuntimeError(f"{url} did not come up")
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    previous = -1.0
    while time.monotonic() < deadline:
        time.sleep(0.5)
        used = _tree_cpu(process.pid, url)
        booted = len(children.read_text().split()) >= workers
        if booted and used - previous < 0.05:
            return
        previous = used
    raise RuntimeError(f"{url}: workers still busy starting")


@contextmanager
def pi_server(venv: Path, config: Path, workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (config.parent / "gunicorn.log").open("ab")
    process = subprocess.Popen(
        [
            str(venv / "bin" / "gunicorn"),
            "--worker-class",
            "gthread",  # also for --threads 1: the sync worker closes every connection
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--timeout",
            "120",
            "--bind",
            f"127.0.0.1:{port}",
            "privacyidea.app:create_app(config_name='production', silent=True)",
        ],
        cwd=config.parent,
        env={**os.environ, "PRIVACYIDEA_CONFIGFILE": str(config)},
        stdout=log,
        stderr=log,
    )
    try:
        _wait_ready(url, process, workers)
        _PROCESS_OF[url] = process.pid
        yield url
    finally:
        _PROCESS_OF.pop(url, None)
        process.terminate()
        process.wait(30)
        log.close()


def pin_verify_seconds(venv: Path, hash_params: dict[str, Any], rounds: int = 5) -> float:
    """Median seconds of one PIN verification with these parameters, in privacyIDEA's venv."""
    probe = f"""
import json, statistics, time
from passlib.context import CryptContext
ctx = CryptContext(["argon2", "pbkdf2_sha512"], **{hash_params!r})
hashed = ctx.hash("1234")
times = []
for _ in range({rounds}):
    started = time.perf_counter()
    ctx.verify("1234", hashed)
    times.append(time.perf_counter() - started)
print(json.dumps(statistics.median(times)))
"""
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True
    )
    return float(json.loads(run.stdout))


def passwd_file(directory: Path, users: list[str]) -> Path:
    path = directory / "users"
    path.write_text(
        "".join(
            f"{user}:x:{10000 + n}:{10000 + n}:{user},,,:/home/{user}:/bin/sh\n"
            for n, user in enumerate(users)
        )
    )
    return path


async def configure(client: Client, sink: str, users_file: Path) -> None:
    await client.call(
        "POST", f"/resolver/{RESOLVER}", {"type": "passwdresolver", "fileName": str(users_file)}
    )
    await client.call("POST", f"/realm/{REALM}", {"resolvers": RESOLVER})
    await client.call(
        "POST",
        "/smsgateway",
        {
            "name": GATEWAY,
            "module": "privacyidea.lib.smsprovider.HttpSMSProvider.HttpSMSProvider",
            "option.URL": sink + "/send",
            "option.HTTP_METHOD": "POST",
            "option.TIMEOUT": "30",
            # Extra options are form fields; privacyIDEA fills in {phone} and {otp}.
            "option.to": "{phone}",
            "option.text": "{otp}",
        },
    )
    await client.call("POST", "/system/setConfig", {"sms.identifier": GATEWAY})


def result_of(answer: Any) -> dict[str, Any]:
    return (answer or {}).get("result", {}) if isinstance(answer, dict) else {}


def ok(answer: Any) -> bool:
    return result_of(answer).get("status") is True


async def enrol(url: str, sink: str, users: list[str], directory: Path, workers: int) -> None:
    client = Client(url, 20)
    try:
        await client.login()
        await configure(client, sink, passwd_file(directory, users))
        enrolment = [
            {
                "type": "sms",
                "serial": f"BENCHSMS{n:05d}",  # a retry then updates, never adds, a token
                "genkey": 1,
                "user": user,
                "realm": REALM,
                "pin": "1234",
                "phone": phone_of(n),
            }
            for n, user in enumerate(users)
        ]
        # Enrolment is not measured: with SQLite and several processes privacyIDEA answers
        # some concurrent writes with a 500 (the database is locked), so those go again alone.
        pending, concurrency = enrolment, 4 * workers
        for _attempt in range(3):
            _run, answers = await drive(client, "POST", "/token/init", pending, concurrency)
            failed = [b for b, a in zip(pending, answers, strict=True) if not ok(a)]
            if not failed:
                return
            pending, concurrency = failed, 1
        raise RuntimeError(f"enrolment failed for {len(failed)} users: {answers[-1]}")
    finally:
        await client.close()


async def measure(url: str, sink: str, users: list[str], args: argparse.Namespace) -> None:
    dialect = args.database_url.split(":")[0].split("+")[0]
    common = {"users": len(users), "concurrency": args.concurrency, "workers": args.workers}
    setup = {
        "threads": args.threads,
        "database": {"postgres": "postgresql"}.get(dialect, dialect),
        "pin_hash": args.pin_hash,
        "sign": args.sign,
        "reload_config_s": args.reload_config,
    }
    client = Client(url, args.concurrency)
    try:
        await client.login()
        # bench/login.py measures the processes that served the enrolment; these were just
        # restarted: let each load its keys and caches before the clock starts.
        unknown = [{"user": "nobody", "realm": REALM, "pass": "1234"}]
        await drive(
            client,
            "POST",
            "/validate/check",
            unknown * 4 * args.workers * args.threads,
            args.workers * args.threads,
            ok_statuses=(200, 400),
        )
        pins = [{"user": user, "realm": REALM, "pass": "1234"} for user in users]
        challenge, answers = await drive(
            client, "POST", "/validate/check", pins, args.concurrency, ramp=args.delay
        )
        transaction_ids = [
            ((a or {}).get("detail") or {}).get("transaction_id") if isinstance(a, dict) else None
            for a in answers
        ]
        sms = await sms_by_phone(sink)
        refused = [a for a, t in zip(answers, transaction_ids, strict=True) if not t]
        emit(
            {
                "bench": "privacyidea_challenge",
                "privacyidea": VERSION,
                **common,
                "gateway_delay_ms": args.delay * 1000,
                **setup,
                **challenge.figures(),
                "challenges": len(users) - len(refused),
                "sms_at_sink": sum(len(v) for v in sms.values()),
                "pin_verify_ms_one_core_busy": round(args.pin_verify * 1000, 1),
                **({"first_refusal": refused[0]} if refused else {}),
            }
        )

        replies = answer_bodies(users, transaction_ids, sms)
        answer_run, results = await drive(
            client, "POST", "/validate/check", replies, args.concurrency
        )
        accepted = [r for r, a in zip(replies, results, strict=True) if result_of(a).get("value")]
        # An answer refused with a 500 may be accepted when sent again: that is no replay.
        _replayed, again = await drive(
            client, "POST", "/validate/check", accepted[:100], args.concurrency
        )
        retried = [r for r, a in zip(replies, results, strict=True) if not ok(a)]
        _retry, second = await drive(client, "POST", "/validate/check", retried, args.concurrency)
        emit(
            {
                "bench": "privacyidea_answer",
                "privacyidea": VERSION,
                **common,
                **setup,
                **answer_run.figures(),
                "accepted": len(accepted),
                "replays_accepted": sum(1 for r in again if result_of(r).get("value") is True),
                "errors_accepted_when_sent_again": sum(
                    1 for r in second if result_of(r).get("value") is True
                ),
                "lost_sms": len(users) - sum(len(v) for v in sms.values()),
            }
        )
    finally:
        await client.close()


@contextmanager
def database(requested: str, directory: Path) -> Iterator[str]:
    if requested == "sqlite":
        yield f"sqlite:///{directory / 'pi.sqlite'}"
    elif requested == "postgres":
        sys.path.insert(0, str(ROOT))
        from tests.peers.postgres import throwaway_postgres

        with throwaway_postgres() as url:
            yield url.replace("+asyncpg", "+psycopg2")
    else:
        yield requested.replace("+asyncpg", "+psycopg2")


async def run(args: argparse.Namespace) -> None:
    venv = Path(args.venv)
    ensure_privacyidea(venv, args.python)
    hash_params = HASHES[args.pin_hash]
    args.pin_verify = pin_verify_seconds(venv, hash_params)
    users = [f"user{n:05d}" for n in range(args.users)]
    with ExitStack() as stack:
        if args.keep:
            directory = Path(tempfile.mkdtemp(prefix="pi-bench-"))
            print(f"keeping {directory} (pi.cfg, gunicorn.log, privacyidea.log)", file=sys.stderr)
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pi-bench-")))
        url = stack.enter_context(database(args.database_url, directory))
        sink = stack.enter_context(sink_process(args.delay, record=True))
        sign = args.sign == "on"
        # Configured with no config cache, so that every worker sees each change at once.
        config = write_config(directory, url, hash_params, sign, 0, args.threads)
        initialise(venv, config)
        with pi_server(venv, config, args.workers, args.threads) as server:
            await enrol(server, sink, users, directory, args.workers)
        config = write_config(directory, url, hash_params, sign, args.reload_config, args.threads)
        with pi_server(venv, config, args.workers, args.threads) as server:
            await measure(server, sink, users, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default="postgres",
        help="postgres (a throwaway server, the default), sqlite, or the URL of an empty database",
    )
    parser.add_argument("--pin-hash", choices=sorted(HASHES), default="shipped")
    parser.add_argument("--sign", choices=["on", "off"], default="on")
    parser.add_argument("--reload-config", type=int, default=60, help="PI_CHECK_RELOAD_CONFIG")
    parser.add_argument("--venv", default=str(ROOT.parent / ".pi-venv"))
    parser.add_argument("--python", help="interpreter for a new venv (default: 3.12, 3.13, ...)")
    parser.add_argument("--keep", action="store_true", help="keep the directory and its logs")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
