"""Several encryption keys, `keys rotate`, and values that no configured key opens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.db.tables import GatewayOption, Token
from app.security.caller import Caller
from app.security.secret_box import SecretBox, SecretUnreadable
from app.services import key_rotation
from tests.api.sms_login import PHONE, check, enrol, gateway_to_sink, last_otp


@contextmanager
def keys(runtime, *configured: bytes) -> Iterator[None]:
    """The runtime with these encryption keys (newest first) for the block."""
    before = runtime.box
    runtime.box = SecretBox(list(configured))
    runtime.gateway_cache.clear()
    try:
        yield
    finally:
        runtime.box = before
        runtime.gateway_cache.clear()


@pytest.fixture
def old_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def new_key() -> bytes:
    return Fernet.generate_key()


async def sealed_values(runtime) -> list[str]:
    def read(tx):
        options = tx.execute(select(GatewayOption.value).where(GatewayOption.secret)).all()
        return [row[0] for row in [*options, *tx.execute(select(Token.otpkey)).all()]]

    return await runtime.db.read(read)


async def gateway_with_password(admin_api, http_sink) -> None:
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post(
        "/smsgateway",
        {
            "name": "sms-gw",
            "module": "providers.http.HttpProvider",
            "option.URL": http_sink.url + "/send",
            "option.HTTP_METHOD": "POST",
            "option.to": "{phone}",
            "option.text": "{otp}",
            "option.PASSWORD": "gw-password",
        },
    )


async def test_rotate_reseals_every_secret_and_seed_under_the_newest_key(
    admin_api, runtime, http_sink, old_key, new_key
):
    with keys(runtime, old_key):
        await gateway_with_password(admin_api, http_sink)
        serial = await enrol(admin_api)
    before = await sealed_values(runtime)
    with keys(runtime, new_key, old_key):
        # Both keys configured: everything still works before the rotation ...
        answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
        assert answer["result"]["authentication"] == "CHALLENGE"
        rotated = await key_rotation.rotate(runtime, Caller("test"))
    assert (rotated.secrets, rotated.seeds) == (1, 1)
    after = await sealed_values(runtime)
    assert len(after) == 2 and not set(after) & set(before)
    with keys(runtime, new_key):
        # ... and after it the old key can go.
        assert {SecretBox([new_key]).open(v) for v in after[:1]} == {"gw-password"}
        answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
        assert answer["result"]["authentication"] == "CHALLENGE"
        otp = last_otp(http_sink)
        tid = answer["detail"]["transaction_id"]
        answer = await check(
            admin_api, user="alice", realm="corp", transaction_id=tid, **{"pass": otp}
        )
        assert answer["result"]["authentication"] == "ACCEPT", serial


async def test_rotate_with_a_value_no_key_opens_names_it_and_changes_nothing(
    admin_api, runtime, http_sink, old_key, new_key
):
    with keys(runtime, old_key):
        await gateway_with_password(admin_api, http_sink)
    with keys(runtime, new_key):
        serial = await enrol(admin_api)  # sealed under the new key only
    before = await sealed_values(runtime)
    with keys(runtime, new_key), pytest.raises(SecretUnreadable) as refused:
        await key_rotation.rotate(runtime, Caller("test"))
    assert "PASSWORD" in refused.value.message and "sms-gw" in refused.value.message
    assert await sealed_values(runtime) == before
    with keys(runtime, old_key), pytest.raises(SecretUnreadable) as refused:
        await key_rotation.rotate(runtime, Caller("test"))
    assert serial in refused.value.message
    assert await sealed_values(runtime) == before


async def test_a_gateway_secret_no_key_opens_is_a_clear_error_naming_the_gateway(
    admin_api, runtime, http_sink, old_key, new_key
):
    with keys(runtime, old_key):
        await gateway_with_password(admin_api, http_sink)
    with keys(runtime, new_key):
        error = await admin_api.post_error(
            "/sms/send", {"gateway": "sms-gw", "phone": PHONE, "message": "x"}, status=503
        )
        assert "sms-gw" in error["message"] and "PASSWORD" in error["message"]
        assert "SMSGW_ENCRYPTION_KEY" in error["message"]
        # The definition still lists (censored) and keeping the lost value is a 409 conflict.
        [listed] = await admin_api.value("/smsgateway/")
        assert listed["options"]["PASSWORD"] == "__CENSORED__"
        body = {
            "name": "sms-gw",
            "module": "providers.http.HttpProvider",
            "option.URL": http_sink.url + "/send",
            "option.PASSWORD": "__CENSORED__",
        }
        error = await admin_api.post_error("/smsgateway", body, status=409, code=905)
        assert "option.PASSWORD" in error["message"]
        # Entering it anew repairs the gateway.
        await admin_api.post("/smsgateway", {**body, "option.PASSWORD": "new"})
        await admin_api.post("/sms/send", {"gateway": "sms-gw", "phone": PHONE, "message": "x"})
    assert not http_sink.requests[:-1]


async def test_a_token_seed_no_key_opens_is_a_clear_error_naming_the_token(
    admin_api, runtime, http_sink, old_key, new_key
):
    await gateway_to_sink(admin_api, http_sink)
    with keys(runtime, old_key):
        serial = await enrol(admin_api)
    with keys(runtime, new_key):
        reply = await admin_api.client.post(
            "/validate/check", json={"user": "alice", "realm": "corp", "pass": "1234"}
        )
    assert reply.status_code == 503, reply.text
    assert serial in reply.json()["result"]["error"]["message"]
    assert not http_sink.requests
