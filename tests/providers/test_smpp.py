"""The SMPP provider against an SMSC written for the tests on asyncio streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from providers import smpp_pdu as pdu
from providers.base import SendError
from providers.registry import OptionsInvalid, registry
from providers.smpp import SmppProvider
from tests.peers.ports import free_port
from tests.peers.smpp_server import SmppServer

NAME = "providers.smpp.SmppProvider"
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
    assert message.submit.source == pdu.Address(5, 0, "smsgw")
    assert message.submit.destination == pdu.Address(1, 1, "491701234567")
    assert message.submit.data_coding == 0 and message.submit.esm_class == 0
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
    assert message.submit.data_coding == 0
    assert message.text == "Preis: 5€ [ok] {x}"
    assert message.submit.short_message.count(0x1B) == 5  # each extension character escaped


async def test_unicode_goes_as_ucs2_with_data_coding_8(gateway, smsc):
    await gateway().send("+491701234567", "验证码 123456")
    (message,) = smsc.submitted
    assert message.submit.data_coding == 8
    assert message.text == "验证码 123456"


async def test_a_long_message_is_split_with_a_concatenation_header(gateway, smsc):
    text = "".join(str(n % 10) for n in range(400))
    result = await gateway().send("+491701234567", text)
    assert result.parts == 3 and result.message_ids == ["msg-1", "msg-2", "msg-3"]
    headers = [m.header for m in smsc.submitted]
    assert all(m.submit.esm_class & pdu.ESM_UDHI for m in smsc.submitted)
    assert [h[5] for h in headers] == [1, 2, 3] and {h[4] for h in headers} == {3}
    assert len({h[3] for h in headers}) == 1  # one reference for all parts
    assert "".join(m.text for m in smsc.submitted) == text


async def test_throttling_is_retried_until_the_smsc_accepts(gateway, smsc):
    smsc.throttle_next = 2
    result = await gateway().send("+491701234567", "123456")
    assert result.message_ids == ["msg-1"]


async def test_throttling_beyond_the_retries_is_a_retryable_error(gateway, smsc):
    smsc.throttle_next = 100
    provider = gateway()
    provider.RETRY_DELAYS = (0.01, 0.01)
    with pytest.raises(SendError) as error:
        await provider.send("+491701234567", "123456")
    assert error.value.code == "ESME_RTHROTTLED" and error.value.retryable


async def test_an_invalid_destination_is_a_final_error(gateway, smsc):
    smsc.fail_with = 0x0B
    with pytest.raises(SendError) as error:
        await gateway().send("+491701234567", "123456")
    assert error.value.code == "ESME_RINVDSTADR" and not error.value.retryable


async def test_a_wrong_password_is_a_final_error_that_never_shows_it(gateway, smsc):
    with pytest.raises(SendError) as error:
        await gateway(PASSWORD="wr0ngpw").send("+491701234567", "123456")
    assert error.value.code == "bind_ESME_RINVPASWD" and not error.value.retryable
    assert "wr0ngpw" not in str(error.value)


async def test_the_provider_keeps_the_link_alive_and_answers_the_smscs_enquire_link(gateway, smsc):
    provider = gateway()
    provider.ENQUIRE_LINK_INTERVAL = 0.05
    await provider.send("+491701234567", "123456")
    await asyncio.sleep(0.3)
    assert smsc.enquire_links >= 3
    await smsc.enquire_clients()
    await asyncio.sleep(0.1)
    answer = smsc.client_answers[-1]
    assert answer.command_id == pdu.ENQUIRE_LINK | pdu.RESPONSE and answer.sequence == 9000


async def test_after_the_connection_drops_the_next_send_binds_again(gateway, smsc):
    provider = gateway()
    await provider.send("+491701234567", "first")
    smsc.drop_connections()
    await asyncio.sleep(0.05)
    await provider.send("+491701234567", "second")
    assert smsc.binds == 2
    assert [m.text for m in smsc.submitted] == ["first", "second"]


async def test_a_drop_while_a_message_is_in_flight_is_a_retryable_error(gateway, smsc):
    smsc.delay = 1.0
    provider = gateway()
    sending = asyncio.ensure_future(provider.send("+491701234567", "123456"))
    await asyncio.sleep(0.2)
    smsc.drop_connections()
    with pytest.raises(SendError) as error:
        await sending
    assert error.value.code == "connection" and error.value.retryable


async def test_aclose_unbinds(gateway, smsc):
    provider = gateway()
    await provider.send("+491701234567", "123456")
    await provider.aclose()
    assert smsc.unbinds == 1


async def test_no_smsc_is_a_retryable_connection_error(gateway):
    with pytest.raises(SendError) as error:
        await gateway(SMSC_PORT=free_port()).send("+491701234567", "123456")
    assert error.value.code == "connection" and error.value.retryable


@pytest.mark.parametrize(
    ("key", "value"),
    [("PASSWORD", "longer-than-8"), ("S_ADDR_TON", "0xZZ"), ("SMSC_PORT", "0"), ("SYSTEM_ID", "")],
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
