"""The delivery path: every failure is a failed send with a scrubbed excerpt, never a 500."""

from __future__ import annotations

import logging

import pytest

from app.delivery.scrub import ERROR_EXCERPT, excerpt
from providers.http import HttpProvider

PHONE = "+491701234567"


def test_the_excerpt_drops_the_message_text_and_the_numbers_digits() -> None:
    error = "http_400: invalid text 'Your code is 884211' for +491701234567 (ref 42)"
    scrubbed = excerpt(error, phone=PHONE, message="Your code is 884211")
    assert scrubbed == "http_400: invalid text '<text>' for +<digits> (ref 42)"


@pytest.mark.parametrize(
    "echo",
    [
        "to=%2B491701234567&text=Your+code+is+884211",  # a form body, URL-encoded
        '{"to": "491701234567", "text": "Your code is 884211"}',  # JSON
        "number 00491701234567 refused, code 884211 not sent",  # prefixed number, bare code
        "subscriber 1701234567 unknown",  # the national part alone
    ],
)
def test_an_echo_in_any_encoding_keeps_neither_number_nor_code(echo: str) -> None:
    scrubbed = excerpt(echo, phone=PHONE, message="Your code is 884211")
    for secret in ("1701234567", "884211", "Your code", "Your+code"):
        assert secret not in scrubbed


def test_the_excerpt_is_bounded_and_one_line() -> None:
    error = "line one\r\nline two\u2028" + "x" * 2000
    scrubbed = excerpt(error, phone=PHONE, message="123456")
    assert len(scrubbed) == ERROR_EXCERPT
    assert "\n" not in scrubbed and "\r" not in scrubbed and "\u2028" not in scrubbed


def test_unrelated_figures_stay_readable() -> None:
    error = "http_503: gateway answered HTTP 503: retry in 3600 s"
    assert excerpt(error, phone=PHONE, message="Your code is 884211") == error


async def make_gateway(api, sink) -> None:
    body = {
        "name": "gw1",
        "module": "providers.http.HttpProvider",
        "option.URL": sink.url + "/send",
        "option.HTTP_METHOD": "POST",
        "option.to": "{phone}",
        "option.text": "{otp}",
    }
    await api.post("/smsgateway", body)


async def test_a_gateway_echo_is_stored_and_logged_scrubbed(admin_api, http_sink, caplog):
    await make_gateway(admin_api, http_sink)
    http_sink.status, http_sink.reply = 400, "bad request: to=+491701234567 text=Code 884211"
    caplog.set_level(logging.WARNING, logger="smsgw.delivery")
    body = {"gateway": "gw1", "phone": PHONE, "message": "Code 884211"}
    await admin_api.post_error("/sms/send", body, status=502)
    (row,) = (await admin_api.value("/sms/messages"))["messages"]
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "smsgw.delivery")
    for stored in (row["error"], logged):
        assert "bad request" in stored
        assert "1701234567" not in stored and "884211" not in stored


async def test_an_unexpected_exception_is_a_failed_send_not_a_500(
    admin_api, http_sink, monkeypatch, caplog
):
    await make_gateway(admin_api, http_sink)

    async def broken(self: HttpProvider, phone: str, message: str) -> None:
        raise RuntimeError(f"bug while sending to {phone}")

    monkeypatch.setattr(HttpProvider, "send", broken)  # past the providers' own guard
    caplog.set_level(logging.ERROR)
    body = {"gateway": "gw1", "phone": PHONE, "message": "x"}
    error = await admin_api.post_error("/sms/send", body, status=502)
    assert "gw1" in error["message"]
    (row,) = (await admin_api.value("/sms/messages"))["messages"]
    assert row["status"] == "failed" and row["error"].startswith("gw1: internal: ")
    assert "RuntimeError" in row["error"]
    assert PHONE not in " ".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("zero", [0x0660, 0xFF10], ids=["arabic-indic", "fullwidth"])
async def test_unicode_digits_in_sms_send_are_a_400_and_nothing_is_sent(admin_api, http_sink, zero):
    await make_gateway(admin_api, http_sink)
    phone = "".join(chr(zero + int(c)) if c.isdigit() else c for c in PHONE)
    body = {"gateway": "gw1", "phone": phone, "message": "x"}
    error = await admin_api.post_error("/sms/send", body, status=400)
    assert "phone" in error["message"]
    assert http_sink.requests == []
