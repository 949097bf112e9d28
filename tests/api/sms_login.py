"""Helpers for the SMS token tests: a gateway into the local sink, enrolment, the OTP
as it arrived at the sink."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

PHONE = "+491701234567"


async def gateway_to_sink(api: Any, sink: Any, name: str = "sms-gw") -> None:
    await api.post(
        "/smsgateway",
        {
            "name": name,
            "module": "providers.http.HttpProvider",
            "option.URL": sink.url + "/send",
            "option.HTTP_METHOD": "POST",
            "option.to": "{phone}",
            "option.text": "{otp}",
        },
    )
    await api.post("/system/setConfig", {"sms.identifier": name})


async def enrol(api: Any, user: str = "alice", pin: str = "1234", **extra: Any) -> str:
    body = {"type": "sms", "user": user, "realm": "corp", "pin": pin, "phone": PHONE, **extra}
    answer = await api.call("POST", "/token/init", json=body)
    return str(answer["detail"]["serial"])


def sms_texts(sink: Any) -> list[str]:
    return [parse_qs(r.body.decode())["text"][0] for r in sink.requests]


def last_otp(sink: Any) -> str:
    return sms_texts(sink)[-1]


async def check(api: Any, **body: Any) -> dict[str, Any]:
    """POST /validate/check (no admin token) and return the whole envelope."""
    reply = await api.client.post("/validate/check", json=body)
    assert reply.status_code == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def count_hashes(monkeypatch: Any) -> list[str]:
    """Record every PIN or password hash verified by a login (the hashes, not the guesses):
    how many guesses were really checked, and whether a dummy stood in for a real one."""
    from app.services import admins, logins

    verified: list[str] = []
    for module in (logins, admins):
        real = module.verify_password

        async def counting(hashed: str, password: str, _real: Any = real, **lane: Any) -> bool:
            verified.append(hashed)
            return bool(await _real(hashed, password, **lane))

        monkeypatch.setattr(module, "verify_password", counting)
    return verified


def real_hashes(verified: list[str]) -> list[str]:
    from app.security.passwords import DUMMY_HASH

    return [h for h in verified if h != DUMMY_HASH]


async def token_row(api: Any, serial: str) -> dict[str, Any]:
    [token] = (await api.value("/token/", params={"serial": serial}))["tokens"]
    return dict(token)
