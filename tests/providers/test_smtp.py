"""The SMTP provider against aiosmtpd started by the tests: plain, STARTTLS with AUTH and
implicit TLS on a certificate from a throwaway CA."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    SendResult,
    TemporaryFailure,
    TimedOut,
    Unreachable,
)
from providers.registry import OptionsInvalid, registry
from providers.smtp import SmtpProvider
from tests.peers.ports import free_port
from tests.peers.smtp_server import PASSWORD, USER, SmtpServer

NAME = "providers.smtp.SmtpProvider"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted_ca(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the throwaway CA the system's trust store for this test."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


@pytest.fixture
def server_factory(ca: trustme.CA) -> Iterator[Callable[[str], SmtpServer]]:
    servers: list[SmtpServer] = []

    def start(mode: str = "plain") -> SmtpServer:
        server = SmtpServer(ca, mode).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def gateway(port: int, **options: Any) -> SmtpProvider:
    raw = {
        "SMTP_SERVER": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": "none",
        "SENDER": "otp@example.com",
        "MAILTO": "{phone}@sms.example.com",
        **{key: str(value) for key, value in options.items()},
    }
    return SmtpProvider(registry.validate(NAME, raw))


async def send(
    port: int, phone: str = "+491701234567", text: str = "123456", **options: Any
) -> SendResult:
    return await gateway(port, **options).send(phone, text)


async def test_a_plain_send_arrives_with_the_templates_filled_in(server_factory):
    server = server_factory("plain")
    result = await send(server.port, SUBJECT="OTP for {phone}", BODY="Your code: <otp>")
    (mail,) = server.received
    assert mail.mail_from == "otp@example.com"
    assert mail.rcpt_tos == ["+491701234567@sms.example.com"]
    assert mail.message["Subject"] == "OTP for +491701234567"
    assert mail.message.get_content().strip() == "Your code: 123456"
    assert result.message_ids == [mail.message["Message-ID"]]


async def test_defaults_put_the_phone_in_the_subject_and_the_otp_in_the_body(server_factory):
    server = server_factory("plain")
    await send(server.port, REGEXP="/^\\+//")
    (mail,) = server.received
    assert mail.rcpt_tos == ["491701234567@sms.example.com"]
    assert mail.message["Subject"] == "491701234567"
    assert mail.message.get_content().strip() == "123456"


async def test_unicode_text_arrives_intact(server_factory):
    server = server_factory("plain")
    await send(server.port, text="Grüße, 验证码 123456 €")
    assert server.received[0].message.get_content().strip() == "Grüße, 验证码 123456 €"


async def test_starttls_with_auth_against_a_trusted_certificate(server_factory, trusted_ca):
    server = server_factory("starttls")
    await send(server.port, SMTP_TLS="starttls", SMTP_USER=USER, SMTP_PASSWORD=PASSWORD)
    assert server.received[0].authenticated


async def test_implicit_tls_against_a_trusted_certificate(server_factory, trusted_ca):
    server = server_factory("tls")
    await send(server.port, SMTP_TLS="tls", SMTP_USER=USER, SMTP_PASSWORD=PASSWORD)
    assert len(server.received) == 1


async def test_an_untrusted_certificate_fails_unless_check_ssl_is_off(server_factory):
    server = server_factory("starttls")
    with pytest.raises(RejectedByGateway) as error:
        await send(server.port, SMTP_TLS="starttls")
    assert error.value.code == "tls" and not error.value.retryable
    assert "certificate" in error.value.message
    await send(server.port, SMTP_TLS="starttls", CHECK_SSL="no")
    assert len(server.received) == 1


async def test_starttls_required_but_not_offered_is_a_clear_error(server_factory):
    server = server_factory("plain")
    with pytest.raises(RejectedByGateway) as error:
        await send(server.port, SMTP_TLS="starttls")
    assert error.value.code == "unsupported" and not error.value.retryable
    assert "STARTTLS" in error.value.message.upper()
    assert server.received == []


async def test_a_wrong_password_is_an_auth_error_that_never_shows_the_password(
    server_factory, trusted_ca
):
    server = server_factory("starttls")
    with pytest.raises(RejectedByGateway) as error:
        await send(server.port, SMTP_TLS="starttls", SMTP_USER=USER, SMTP_PASSWORD="Wr0ng-s3cret")
    assert error.value.code == "auth" and not error.value.retryable
    assert "Wr0ng-s3cret" not in str(error.value)
    assert server.received == []


@pytest.mark.parametrize(
    ("reply", "kind"), [("550 no such user", RejectedNumber), ("450 try later", TemporaryFailure)]
)
async def test_a_refused_recipient_is_a_rejected_number_or_temporary_for_4xx(
    server_factory, reply, kind
):
    server = server_factory("plain")
    server.recorder.refuse["+491701234567@sms.example.com"] = reply
    with pytest.raises(SendError) as error:
        await send(server.port)
    assert type(error.value) is kind
    assert error.value.code == f"smtp_{reply[:3]}"
    assert reply[4:] in error.value.message


@pytest.mark.parametrize(
    ("reply", "kind"),
    [("451 queue full, try later", TemporaryFailure), ("554 content refused", RejectedByGateway)],
)
async def test_a_refused_message_is_temporary_for_4xx_and_rejected_by_the_gateway_for_5xx(
    server_factory, reply, kind
):
    server = server_factory("plain")
    server.recorder.data_reply = reply
    with pytest.raises(SendError) as error:
        await send(server.port)
    assert type(error.value) is kind and error.value.code == f"smtp_{reply[:3]}"


async def test_a_connection_lost_after_the_message_was_sent_leaves_the_outcome_unknown(
    server_factory,
):
    server = server_factory("plain")
    server.recorder.drop_on_data = True
    with pytest.raises(OutcomeUnknown) as error:
        await send(server.port)
    assert error.value.retryable


async def test_a_server_that_never_greets_timed_out():
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing until the client gives up
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        with pytest.raises(TimedOut):
            await send(server.sockets[0].getsockname()[1], TIMEOUT="0.3")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("text", ["12\u20283456", "12\u20293456", "12\x853456", "12\x0c3456"])
async def test_a_unicode_line_separator_in_the_subject_is_rejected_not_raised(server_factory, text):
    server = server_factory("plain")
    with pytest.raises(RejectedByGateway) as error:
        await send(server.port, text=text, SUBJECT="Code {otp}")
    assert error.value.code == "header"
    assert server.received == []


@pytest.mark.parametrize("key", ["SUBJECT", "MAILTO", "SENDER"])
def test_a_template_with_a_line_separator_is_refused_at_save(key):
    raw = {"SMTP_SERVER": "mail.example.com", "SENDER": "a@b.c", "MAILTO": "{phone}@x"}
    raw[key] = "a\u2028b@c.d"
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw)
    assert key in [k for k, _ in error.value.errors]


async def test_a_phone_number_cannot_add_recipients(server_factory):
    server = server_factory("plain")
    with pytest.raises(RejectedByGateway) as error:
        await send(server.port, phone="1@evil.example, 2")
    assert error.value.code == "recipient"
    assert server.received == []


async def test_a_dead_server_is_unreachable():
    with pytest.raises(Unreachable) as error:
        await send(free_port())
    assert error.value.code == "connection" and error.value.retryable


async def test_a_line_break_in_a_header_is_refused_not_sent(server_factory):
    server = server_factory("plain")
    with pytest.raises(RejectedByGateway) as error:
        await send(server.port, phone="+49170\r\nBcc: victim@example.com")
    assert error.value.code == "header"
    assert server.received == []


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"SMTP_TLS": "bogus"}, "SMTP_TLS"),
        ({"SMTP_SERVER": ""}, "SMTP_SERVER"),
        ({"SENDER": "not-an-address"}, "SENDER"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT"),
    ],
)
def test_bad_options_name_the_key(options, key):
    raw = {"SMTP_SERVER": "mail.example.com", "SENDER": "a@b.c", "MAILTO": "{phone}@x", **options}
    raw = {k: v for k, v in raw.items() if v}
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw)
    assert key in [k for k, _ in error.value.errors]


def test_the_password_is_a_secret_and_privacyideas_name_resolves():
    parameters = registry.schema()[NAME]["parameters"]
    assert parameters["SMTP_PASSWORD"]["secret"] is True
    assert (
        registry.resolve("privacyidea.lib.smsprovider.SmtpSMSProvider.SmtpSMSProvider")
        is SmtpProvider
    )
