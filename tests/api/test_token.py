"""/token: enrolment and administration of SMS tokens."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from app.db.tables import Token
from tests.api.sms_login import PHONE, enrol, gateway_to_sink


async def test_init_answers_the_serial_and_lists_the_token(admin_api):
    answer = await admin_api.call(
        "POST",
        "/token/init",
        json={
            "type": "sms",
            "user": "alice",
            "realm": "corp",
            "pin": "1234",
            "phone": "+49 170 123-4567",
            "description": "work phone",
        },
    )
    assert answer["result"]["value"] is True
    serial = answer["detail"]["serial"]
    assert serial.startswith("PISM") and len(serial) == 12
    page = await admin_api.value("/token/", params={"user": "alice", "realm": "corp"})
    assert page["count"] == 1
    [token] = page["tokens"]
    assert token["serial"] == serial and token["tokentype"] == "sms"
    assert (token["username"], token["realm"]) == ("alice", "corp")
    assert token["active"] is True and token["locked"] is False
    assert (token["failcount"], token["maxfail"], token["otplen"]) == (0, 10, 6)
    assert token["info"]["phone"] == PHONE
    assert token["description"] == "work phone"


async def test_init_by_form_with_privacyideas_extra_parameters(admin_api):
    body = {
        "type": "sms",
        "user": "bob",
        "realm": "corp",
        "pin": "1",
        "phone": PHONE,
        "genkey": "1",
        "otplen": "8",
        "maxfail": "5",  # a form carries text; the document's integer is read from it
    }
    answer = await admin_api.call("POST", "/token/init", data=body)
    [token] = (await admin_api.value("/token/", params={"serial": answer["detail"]["serial"]}))[
        "tokens"
    ]
    assert (token["otplen"], token["maxfail"]) == (8, 5)


async def test_json_maxfail_must_be_a_number_as_the_document_says(admin_api):
    body = {"type": "sms", "user": "a", "phone": PHONE, "maxfail": "5"}
    error = await admin_api.post_error("/token/init", body, status=400, code=905)
    assert "maxfail" in error["message"]


async def test_the_seed_is_encrypted_and_the_pin_hashed(admin_api, runtime):
    serial = await enrol(admin_api, pin="s3cret-pin")
    query = select(Token).where(Token.serial == serial)
    token = await runtime.db.read(lambda tx: tx.execute(query).scalar_one())
    assert "s3cret-pin" not in token.pin_hash and token.pin_hash.startswith("$argon2id$")
    assert len(bytes.fromhex(runtime.box.open(token.otpkey))) == 20
    assert token.otpkey != runtime.box.open(token.otpkey)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "sms", "user": "a", "pin": "1"}, "phone"),
        ({"type": "sms", "user": "a", "pin": "1", "phone": ""}, "phone"),
        ({"type": "sms", "user": "a", "pin": "1", "phone": "0170 1234567"}, "phone"),
        ({"type": "hotp", "user": "a", "pin": "1", "phone": PHONE}, "type"),
        ({"type": "sms", "pin": "1", "phone": PHONE}, "user"),
        ({"type": "sms", "user": "a", "phone": PHONE, "otplen": 7}, "otplen"),
        ({"type": "sms", "user": "a", "phone": PHONE, "otplen": "7"}, "otplen"),
        ({"type": "sms", "user": "a", "phone": PHONE, "maxfail": "x"}, "maxfail"),
        ({"type": "sms", "user": "a", "phone": PHONE, "serial": None}, "serial"),
        ({"type": "sms", "user": "a", "phone": PHONE, "pin": 1.5}, "pin"),
        ({"type": "sms", "user": "u" * 256, "phone": PHONE}, "user"),
        ({"type": "sms", "user": "a", "realm": "r" * 256, "phone": PHONE}, "realm"),
        (
            {"type": "sms", "user": "a", "phone": PHONE, "sms.identifier": "g" * 256},
            "sms.identifier",
        ),
    ],
)
async def test_bad_enrolments_are_400s_naming_the_field_and_store_nothing(admin_api, body, named):
    error = await admin_api.post_error("/token/init", body, status=400, code=905)
    assert named in error["message"]
    assert (await admin_api.value("/token/"))["count"] == 0


async def test_a_gateway_that_does_not_exist_is_a_404_naming_it(admin_api):
    body = {"type": "sms", "user": "a", "phone": PHONE, "sms.identifier": "nope"}
    error = await admin_api.post_error("/token/init", body, status=404, code=601)
    assert "sms.identifier" in error["message"]
    assert (await admin_api.value("/token/"))["count"] == 0


async def test_a_duplicate_serial_is_a_409(admin_api):
    await enrol(admin_api, serial="PISMFIXED1")
    await admin_api.post_error(
        "/token/init",
        {"type": "sms", "user": "x", "phone": PHONE, "serial": "PISMFIXED1"},
        status=409,
    )


async def test_init_answers_privacyideas_googleurl_with_the_seed_and_a_qr_code(admin_api, runtime):
    answer = await admin_api.call(
        "POST", "/token/init", json={"type": "sms", "user": "a", "phone": PHONE, "otplen": 8}
    )
    serial = answer["detail"]["serial"]
    googleurl = answer["detail"]["googleurl"]
    query = select(Token).where(Token.serial == serial)
    token = await runtime.db.read(lambda tx: tx.execute(query).scalar_one())
    secret = base64.b32encode(bytes.fromhex(runtime.box.open(token.otpkey))).decode().rstrip("=")
    assert googleurl["value"] == (
        f"otpauth://sms/{serial}?secret={secret}&digits=8&creator=smsgw&issuer=smsgw"
        f"&serial={serial}"
    )
    assert googleurl["description"] == "URL for google Authenticator"
    assert googleurl["img"].startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(googleurl["img"].split(",", 1)[1])


async def test_numbers_where_privacyidea_clients_send_them(admin_api):
    body = {"type": "sms", "user": "a", "phone": PHONE, "otplen": "8", "pin": 1234,
            "description": 42}  # fmt: skip
    serial = (await admin_api.call("POST", "/token/init", json=body))["detail"]["serial"]
    [token] = (await admin_api.value("/token/", params={"serial": serial}))["tokens"]
    assert (token["otplen"], token["description"]) == (8, "42")


@pytest.mark.parametrize("body", [{}, {"realm": "corp"}, {"serial": None, "user": "alice"}])
async def test_an_action_needs_a_serial_or_a_user(admin_api, body):
    error = await admin_api.post_error("/token/disable", body, status=400, code=905)
    assert "serial" in error["message"]


async def test_list_pages(admin_api):
    for n in range(5):
        await enrol(admin_api, user=f"user{n}")
    page = await admin_api.value("/token/", params={"pagesize": 2, "page": 2})
    assert page["count"] == 5 and len(page["tokens"]) == 2
    assert (page["prev"], page["next"]) == (1, 3)


async def test_disable_enable_by_serial_and_by_user(admin_api):
    serial = await enrol(admin_api)
    assert await admin_api.post("/token/disable", {"serial": serial}) == 1
    [token] = (await admin_api.value("/token/"))["tokens"]
    assert token["active"] is False
    assert await admin_api.post("/token/enable", {"user": "alice", "realm": "corp"}) == 1
    [token] = (await admin_api.value("/token/"))["tokens"]
    assert token["active"] is True


async def test_setpin_changes_the_pin(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, pin="old")
    assert await admin_api.post("/token/setpin", {"serial": serial, "otppin": "new"}) == 1
    reply = await admin_api.client.post("/validate/check", json={"serial": serial, "pass": "new"})
    assert reply.json()["result"]["authentication"] == "CHALLENGE"


async def test_delete_removes_the_token_and_unknown_serials_are_404(admin_api):
    serial = await enrol(admin_api)
    assert await admin_api.delete(f"/token/{serial}") == 1
    await admin_api.error("DELETE", f"/token/{serial}", status=404, code=601)
    await admin_api.post_error("/token/enable", {"serial": "PISMNOPE"}, status=404, code=601)


@pytest.mark.parametrize(
    ("method", "path", "body", "action"),
    [
        ("POST", "/token/init", {"type": "sms", "user": "a", "phone": PHONE}, "enrollSMS"),
        ("GET", "/token/", None, "tokenlist"),
        ("POST", "/token/disable", {"serial": "X"}, "disable"),
        ("DELETE", "/token/X", None, "delete"),
    ],
)
async def test_each_token_action_needs_its_policy(admin_api, method, path, body, action):
    await admin_api.post("/policy/other", {"scope": "admin", "action": "smsgateway_read"})
    error = await admin_api.error(method, path, json=body, status=403, code=303)
    assert action in error["message"]
