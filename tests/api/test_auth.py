"""Admin authentication: /auth, the three header forms, lock-out, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select, update

from app.db.tables import LoginFailure, utcnow
from tests.conftest import ADMIN, PASSWORD


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
async def test_login_returns_a_jwt_in_the_envelope(anonymous_api, form):
    body = {"username": ADMIN, "password": PASSWORD}
    reply = await anonymous_api.call(
        "POST", "/auth", **({"data": body} if form else {"json": body})
    )
    assert reply["result"]["authentication"] == "ACCEPT"
    value = reply["result"]["value"]
    assert value["role"] == "admin" and value["username"] == ADMIN
    assert "smsgateway_write" in value["rights"]
    assert jwt.decode(value["token"], options={"verify_signature": False})["sub"] == ADMIN


@pytest.mark.parametrize(
    "header",
    [
        lambda t: {"Authorization": t},
        lambda t: {"Authorization": f"Bearer {t}"},
        lambda t: {"PI-Authorization": t},
    ],
    ids=["bare", "bearer", "pi-authorization"],
)
async def test_the_token_is_accepted_bare_as_bearer_and_in_pi_authorization(anonymous_api, header):
    token = await anonymous_api.login()
    anonymous_api.token = None
    reply = await anonymous_api.request("GET", "/smsgateway/", headers=header(token))
    assert reply.status_code == 200


async def test_oauth2_token_endpoint_serves_swagger_ui(anonymous_api):
    reply = await anonymous_api.client.post(
        "/auth/token", data={"username": ADMIN, "password": PASSWORD, "grant_type": "password"}
    )
    assert reply.status_code == 200
    token = reply.json()["access_token"]
    assert reply.json()["token_type"] == "bearer"
    listed = await anonymous_api.client.get(
        "/smsgateway/", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200


async def test_no_authorization_header_is_401_code_4033(anonymous_api):
    await anonymous_api.error("GET", "/smsgateway/", status=401, code=4033)
    await anonymous_api.post_error("/smsgateway", {"name": "x"}, status=401, code=4033)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        jwt.encode(
            {"sub": ADMIN, "role": "admin", "exp": time.time() + 60, "iss": "smsgw"},
            "not-the-key-" * 4,
        ),
    ],
    ids=["garbage", "forged"],
)
async def test_bad_or_forged_token_is_401_code_4304(anonymous_api, token):
    await anonymous_api.error(
        "GET", "/smsgateway/", status=401, code=4304, headers={"Authorization": token}
    )


async def test_expired_token_is_401_code_4304(anonymous_api, runtime):
    runtime.issuer.lifetime = -10
    try:
        token = runtime.issuer.issue(ADMIN)
    finally:
        runtime.issuer.lifetime = runtime.settings.jwt_lifetime_seconds
    error = await anonymous_api.error(
        "GET", "/smsgateway/", status=401, code=4304, headers={"Authorization": token}
    )
    assert "expired" in error["message"]


async def test_a_valid_token_of_another_role_is_403_code_303(anonymous_api, runtime):
    token = runtime.issuer.issue("alice", role="user")
    await anonymous_api.error(
        "GET", "/smsgateway/", status=403, code=303, headers={"Authorization": token}
    )


@pytest.mark.parametrize("username", [ADMIN, "nobody"])
async def test_wrong_credentials_are_401_code_4031_either_way(anonymous_api, username):
    error = await anonymous_api.post_error(
        "/auth", {"username": username, "password": "wrong"}, status=401, code=4031
    )
    assert error["message"] == "Authentication failed."  # privacyIDEA's words


async def test_an_undecodable_token_is_named_in_privacyideas_words(anonymous_api):
    error = await anonymous_api.error(
        "GET", "/smsgateway/", status=401, code=4304, headers={"Authorization": "not-a-jwt"}
    )
    assert error["message"].startswith(
        "Authentication failure. Error decoding the Authorization token"
    )


async def test_missing_password_is_a_400_naming_it(anonymous_api):
    error = await anonymous_api.post_error("/auth", {"username": ADMIN}, status=400, code=905)
    assert error["message"] == "ERR905: Missing parameter: password"


async def test_repeated_failures_lock_the_user_out_even_with_the_right_password(
    anonymous_api, runtime
):
    for _ in range(runtime.settings.login_max_failures):
        await anonymous_api.post_error(
            "/auth", {"username": ADMIN, "password": "wrong"}, status=401
        )
    error = await anonymous_api.post_error(
        "/auth", {"username": ADMIN, "password": PASSWORD}, status=429, code=4031
    )
    assert "try again" in error["message"]
    # The lock lives in the database, so every worker and host sees it.
    lock = await runtime.db.read(lambda tx: tx.execute(select(LoginFailure)).scalar_one())
    assert lock.username == ADMIN and lock.locked_until is not None


async def test_a_success_resets_the_failure_count(anonymous_api, runtime):
    for _ in range(runtime.settings.login_max_failures - 1):
        await anonymous_api.post_error(
            "/auth", {"username": ADMIN, "password": "wrong"}, status=401
        )
    await anonymous_api.login()
    await anonymous_api.post_error("/auth", {"username": ADMIN, "password": "wrong"}, status=401)
    await anonymous_api.login()


def test_cli_adds_an_admin_who_can_then_log_in(tmp_path):
    env = {**os.environ, "SMSGW_DATA_DIR": str(tmp_path)}
    env.pop("SMSGW_DATABASE_URL", None)
    cli = [sys.executable, "-m", "app.cli"]
    added = subprocess.run(
        [*cli, "admin", "add", "ops", "--password", "ops-pass-123"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ops" in added.stdout
    upgraded = subprocess.run([*cli, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr

    import asyncio

    from app.main import build_runtime
    from app.services import admins
    from app.settings import Settings

    async def check() -> str:
        rt = build_runtime(Settings(data_dir=tmp_path))
        try:
            return await admins.login(rt, "ops", "ops-pass-123", "127.0.0.1")
        finally:
            await rt.db.dispose()

    assert asyncio.run(check())


async def test_thirty_concurrent_wrong_passwords_check_at_most_five_and_lock_out(
    anonymous_api, runtime, monkeypatch
):
    from tests.api.sms_login import count_hashes, real_hashes

    limit = runtime.settings.login_max_failures
    assert limit == 5
    verified = count_hashes(monkeypatch)
    replies = await asyncio.gather(
        *(
            anonymous_api.client.post("/auth", json={"username": ADMIN, "password": f"x{n}"})
            for n in range(30)
        )
    )
    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= limit
    assert len(real_hashes(verified)) <= limit
    await anonymous_api.post_error(
        "/auth", {"username": ADMIN, "password": PASSWORD}, status=429, code=4031
    )


async def test_concurrent_wrong_passwords_at_the_oauth2_endpoint_lock_out_too(
    anonymous_api, runtime
):
    form = {"username": ADMIN, "grant_type": "password"}
    replies = await asyncio.gather(
        *(
            anonymous_api.client.post("/auth/token", data={**form, "password": f"x{n}"})
            for n in range(30)
        )
    )
    statuses = [r.status_code for r in replies]
    assert statuses.count(401) <= runtime.settings.login_max_failures
    locked = await anonymous_api.client.post("/auth/token", data={**form, "password": PASSWORD})
    assert locked.status_code == 429


async def test_a_lock_out_ends_after_its_time(anonymous_api, runtime):
    for _ in range(runtime.settings.login_max_failures):
        await anonymous_api.post_error(
            "/auth", {"username": ADMIN, "password": "wrong"}, status=401
        )
    await anonymous_api.post_error("/auth", {"username": ADMIN, "password": PASSWORD}, status=429)
    past = utcnow() - timedelta(seconds=runtime.settings.login_lockout_seconds + 1)
    await runtime.db.write(lambda tx: tx.execute(update(LoginFailure).values(last_failure=past)))
    await anonymous_api.login()


@pytest.mark.parametrize("path", ["/auth", "/auth/token"])
async def test_a_user_name_over_255_characters_is_a_400_naming_it(anonymous_api, path):
    body = {"username": "u" * 256, "password": "x", "grant_type": "password"}
    if path == "/auth":
        body.pop("grant_type")
        error = await anonymous_api.post_error(path, body, status=400, code=905)
    else:
        reply = await anonymous_api.client.post(path, data=body)
        assert reply.status_code == 400, reply.text
        error = reply.json()["result"]["error"]
    assert "username" in error["message"]
