"""The SMPP provider against an SMSC written for the tests on asyncio streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    TemporaryFailure,
    Throttled,
    TimedOut,
    Unreachable,
)
from providers.registry import OptionsInvalid, registry
from providers.smpp import SmppProvider
from tests.peers.ports import free_port
from tests.peers.smpp_server import SmppServer
from tests.waiting import eventually

NAME = "providers.smpp.SmppProvider"
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "491701234567")
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "491701234567")
Gateway = Callable[..., SmppProvider]


@pytest_asyncio.fixture
async def smsc() -> AsyncIterator[SmppServer]:
    server = await SmppServer().start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def gateway(smsc: SmppServer) -> AsyncIterator[Gateway]:
    made: list[SmppProvider] = []

    def make(**options: Any) -> SmppProvider:
        raw = {
            "SMSC_HOST": "127.0.0.1",
            "SMSC_PORT": str(smsc.port),
            "SYSTEM_ID": "smsgw",
            "PASSWORD": "secret",
            "S_ADDR": "smsgw",
            "S_ADDR_TON": "0x5",
            "TIMEOUT": "5",
            **{key: str(value) for key, value in options.items()},
        }
        provider = SmppProvider(registry.validate(NAME, raw))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def test_a_message_is_submitted_with_its_addresses_and_the_message_id_returned(gateway, smsc):
    result = await gateway().send("+491701234567", "Code 123456")
    (message,) = smsc.submitted
    assert message.source == (5, 0, "smsgw")
    assert message.destination == (1, 1, "491701234567")
    assert message.data_coding == 0 and message.esm_class == 0
    assert message.text == "Code 123456"
    assert result.message_ids == ["msg-1"] and result.parts == 1


async def test_one_bind_serves_many_sends(gateway, smsc):
    provider = gateway()
    for _ in range(5):
        await provider.send("+491701234567", "123456")
    assert smsc.binds == 1 and len(smsc.submitted) == 5


async def test_concurrent_sends_share_the_session_without_waiting_for_each_other(gateway, smsc):
    smsc.delay = 0.1
    provider = gateway()
    results = await asyncio.gather(*(provider.send(f"+4917012345{n:02d}", "x") for n in range(20)))
    assert smsc.binds == 1
    assert smsc.max_outstanding == 20  # all twenty were at the SMSC at once
    assert sorted(r.message_ids[0] for r in results) == sorted(f"msg-{n}" for n in range(1, 21))


async def test_gsm7_extension_characters_go_as_data_coding_0(gateway, smsc):
    await gateway().send("+491701234567", "Preis: 5€ [ok] {x}")
    (message,) = smsc.submitted
    assert message.data_coding == 0
    assert message.text == "Preis: 5€ [ok] {x}"
    assert message.short_message.count(0x1B) == 5  # each extension character escaped


async def test_unicode_goes_as_ucs2_with_data_coding_8(gateway, smsc):
    await gateway().send("+491701234567", "验证码 123456")
    (message,) = smsc.submitted
    assert message.data_coding == 8
    assert message.text == "验证码 123456"


async def test_a_long_message_is_split_with_a_concatenation_header(gateway, smsc):
    text = "".join(str(n % 10) for n in range(400))
    result = await gateway().send("+491701234567", text)
    assert result.parts == 3 and result.message_ids == ["msg-1", "msg-2", "msg-3"]
    headers = [m.header for m in smsc.submitted]
    assert all(m.esm_class & 0x40 for m in smsc.submitted)
    assert [h[5] for h in headers] == [1, 2, 3] and {h[4] for h in headers} == {3}
    assert len({h[3] for h in headers}) == 1  # one reference for all parts
    assert "".join(m.text for m in smsc.submitted) == text


async def test_throttling_is_retried_until_the_smsc_accepts(gateway, smsc):
    smsc.throttle_next = 2
    result = await gateway().send("+491701234567", "123456")
    assert result.message_ids == ["msg-1"]


async def test_throttling_beyond_the_retries_is_throttled(gateway, smsc):
    smsc.throttle_next = 100
    provider = gateway()
    provider.RETRY_DELAYS = (0.01, 0.01)
    with pytest.raises(Throttled) as error:
        await provider.send("+491701234567", "123456")
    assert error.value.code == "ESME_RTHROTTLED" and error.value.retryable


@pytest.mark.parametrize(
    ("status", "kind", "name"),
    [
        (0x0B, RejectedNumber, "ESME_RINVDSTADR"),
        (0x14, Throttled, "ESME_RMSGQFUL"),
        (0x58, Throttled, "ESME_RTHROTTLED"),
        (0x08, TemporaryFailure, "ESME_RSYSERR"),
        (0x45, TemporaryFailure, "ESME_RSUBMITFAIL"),
        (0x0A, RejectedByGateway, "ESME_RINVSRCADR"),
        (0x66, RejectedByGateway, "ESME_RX_R_APPN"),
        (0x400, RejectedByGateway, "status 0x00000400"),
    ],
)
async def test_each_submit_status_is_its_send_error(gateway, smsc, status, kind, name):
    smsc.fail_with = status
    provider = gateway()
    provider.RETRY_DELAYS = ()
    with pytest.raises(SendError) as error:
        await provider.send("+491701234567", "123456")
    assert type(error.value) is kind and error.value.code == name


async def test_a_wrong_password_is_rejected_by_the_gateway_and_never_shown(gateway, smsc):
    with pytest.raises(RejectedByGateway) as error:
        await gateway(PASSWORD="wr0ngpw").send("+491701234567", "123456")
    assert error.value.code == "bind_ESME_RINVPASWD" and not error.value.retryable
    assert "wr0ngpw" not in str(error.value)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(0x0D, RejectedByGateway), (0x0F, RejectedByGateway), (0x08, TemporaryFailure)],
)
async def test_a_refused_bind_is_its_send_error_and_closes_the_connection(
    gateway, smsc, status, kind
):
    smsc.bind_status = status
    with pytest.raises(SendError) as error:
        await gateway().send("+491701234567", "123456")
    assert type(error.value) is kind and error.value.code.startswith("bind_")
    await eventually(lambda: smsc.connections == 0)


async def test_the_provider_keeps_the_link_alive_and_answers_the_smscs_enquire_link(gateway, smsc):
    provider = gateway()
    provider.ENQUIRE_LINK_INTERVAL = 0.05
    await provider.send("+491701234567", "123456")
    await eventually(lambda: smsc.enquire_links >= 3)
    await smsc.enquire_clients()
    await eventually(lambda: len(smsc.client_answers) > 0)
    command_id, status, sequence = smsc.client_answers[-1]
    assert (command_id, status, sequence) == (0x80000015, 0, 9000)


async def test_after_the_connection_drops_the_next_send_binds_again(gateway, smsc):
    provider = gateway()
    await provider.send("+491701234567", "first")
    smsc.drop_connections()
    await eventually(lambda: smsc.connections == 0)
    await provider.send("+491701234567", "second")
    assert smsc.binds == 2
    assert [m.text for m in smsc.submitted] == ["first", "second"]


async def test_a_drop_while_a_message_is_in_flight_leaves_the_outcome_unknown(gateway, smsc):
    smsc.drop_on_submit = True
    with pytest.raises(OutcomeUnknown) as error:
        await gateway().send("+491701234567", "123456")
    assert error.value.code == "connection_lost" and error.value.retryable


async def test_an_smsc_that_never_answers_a_submit_timed_out(gateway, smsc):
    smsc.silent = True
    with pytest.raises(TimedOut):
        await gateway(TIMEOUT="0.3").send("+491701234567", "123456")


async def test_a_message_id_without_its_nul_leaves_the_outcome_unknown(gateway, smsc):
    smsc.message_id_nul = False
    with pytest.raises(OutcomeUnknown) as error:
        await gateway().send("+491701234567", "123456")
    assert error.value.code == "bad_response"


@pytest.mark.parametrize(
    "phone", [f"+{ARABIC_INDIC}", f"+{FULLWIDTH}", "+49170\x001234", "+" + "1" * 21]
)
async def test_a_destination_smpp_cannot_carry_is_a_rejected_number(gateway, smsc, phone):
    with pytest.raises(RejectedNumber) as error:
        await gateway().send(phone, "123456")
    assert error.value.code == "invalid_number"
    assert smsc.binds == 0 and smsc.submitted == []


async def test_failed_binds_leave_no_connection_open(gateway, smsc):
    # A bind the SMSC refuses, one it never answers, one cut off, one that cannot be encoded.
    smsc.bind_status = 0x0D
    for _ in range(3):
        with pytest.raises(RejectedByGateway):
            await gateway().send("+491701234567", "1")
    smsc.bind_status, smsc.silent_bind = 0, True
    with pytest.raises(TimedOut):
        await gateway(TIMEOUT="0.2").send("+491701234567", "1")
    options = registry.validate(
        NAME, {"SMSC_HOST": "127.0.0.1", "SMSC_PORT": str(smsc.port), "SYSTEM_ID": "x"}
    )
    unencodable = SmppProvider(options.model_copy(update={"SYSTEM_ID": "smsgw-é"}))
    for _ in range(3):
        with pytest.raises(RejectedByGateway) as error:
            await unencodable.send("+491701234567", "1")
        assert error.value.code == "bind_options"
    await unencodable.aclose()
    await eventually(lambda: smsc.connections == 0)
    assert smsc.binds == 3  # the unanswered bind is not counted, the unencodable never sent


async def test_aclose_unbinds(gateway, smsc):
    provider = gateway()
    await provider.send("+491701234567", "123456")
    await provider.aclose()
    assert smsc.unbinds == 1


async def test_no_smsc_is_unreachable(gateway):
    with pytest.raises(Unreachable) as error:
        await gateway(SMSC_PORT=free_port()).send("+491701234567", "123456")
    assert error.value.code == "connection" and error.value.retryable


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PASSWORD", "longer-than-8"),
        ("S_ADDR_TON", "0xZZ"),
        ("SMSC_PORT", "0"),
        ("SYSTEM_ID", ""),
        ("SYSTEM_ID", "smsgw-é"),
        ("SYSTEM_ID", "a" * 16),
        ("PASSWORD", "pässwd"),
        ("SYSTEM_TYPE", "ΤΥΠΟΣ"),
        ("SYSTEM_TYPE", "t" * 13),
        ("S_ADDR", "Sénder"),
        ("S_ADDR", "1" * 21),
    ],
)
def test_bad_options_name_the_key(key, value):
    raw = {"SMSC_HOST": "smsc.example.com", "SYSTEM_ID": "smsgw", key: value}
    raw = {k: v for k, v in raw.items() if v}
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw)
    assert key in [k for k, _ in error.value.errors]


def test_ton_and_npi_are_hexadecimal_as_in_privacyidea():
    options = registry.validate(
        NAME, {"SMSC_HOST": "h", "SYSTEM_ID": "s", "S_ADDR_TON": "0x5", "D_ADDR_NPI": "12"}
    )
    assert (options.S_ADDR_TON, options.D_ADDR_NPI) == (5, 0x12)  # type: ignore[attr-defined]


def test_the_password_is_a_secret_and_privacyideas_name_resolves():
    assert registry.schema()[NAME]["parameters"]["PASSWORD"]["secret"] is True
    assert (
        registry.resolve("privacyidea.lib.smsprovider.SmppSMSProvider.SmppSMSProvider")
        is SmppProvider
    )
