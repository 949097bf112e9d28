"""The GSM modem provider against a modem emulator on a pseudo-terminal: tests assert what
arrived there character for character, and that no two AT commands ever overlapped."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from providers.base import (
    RejectedByGateway,
    RejectedNumber,
    SendError,
    TemporaryFailure,
    TimedOut,
    Unreachable,
)
from providers.gsm_modem import GsmModemOptions, GsmModemProvider
from providers.registry import OptionsInvalid, registry
from tests.peers.modem_emulator import ModemEmulator, Sent
from tests.waiting import eventually

NAME = "providers.gsm_modem.GsmModemProvider"
PHONE = "+491701234567"
INIT = ["ATE0", "AT+CMEE=1", "AT+CPIN?"]
Gateway = Callable[..., GsmModemProvider]


@pytest_asyncio.fixture
async def modem(request: pytest.FixtureRequest) -> AsyncIterator[ModemEmulator]:
    """A modem emulator; parametrize indirectly with its settings (pin=..., delay=...)."""
    async with ModemEmulator(**getattr(request, "param", {})) as emulator:
        yield emulator
    assert emulator.interleave_errors == []
    assert emulator.protocol_errors == []


@pytest_asyncio.fixture
async def gateway(modem: ModemEmulator) -> AsyncIterator[Gateway]:
    """Build providers from option strings, as the service does; all closed afterwards."""
    providers: list[GsmModemProvider] = []

    def make(**options: Any) -> GsmModemProvider:
        raw = {"PORT": modem.path, "TIMEOUT": "2"} | {k: str(v) for k, v in options.items()}
        validated = registry.validate(NAME, raw)
        assert isinstance(validated, GsmModemOptions)
        providers.append(GsmModemProvider(validated))
        return providers[-1]

    yield make
    for provider in providers:
        await provider.aclose()


async def test_init_sequence_without_pin_then_a_text_mode_send(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    await gateway().send(PHONE, "Your code is 123456")
    assert modem.commands == [
        *INIT,
        "AT+CMGF=1",
        'AT+CSCS="GSM"',
        f'AT+CMGS="{PHONE}"',
    ]
    assert modem.escapes == 1  # the initial resync leaves any half-typed message


@pytest.mark.parametrize("modem", [{"pin": "4711"}], indirect=True)
async def test_init_sequence_with_pin_unlocks_the_sim_and_sets_the_smsc(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    await gateway(PIN="4711", SMSC="+491710760000").send(PHONE, "Code 123456")
    assert modem.commands == [
        *INIT,
        'AT+CPIN="4711"',
        "AT+CMGF=1",
        'AT+CSCS="GSM"',
        'AT+CSCA="+491710760000",145',
        f'AT+CMGS="{PHONE}"',
    ]
    assert modem.sent[0].smsc == "+491710760000"


@pytest.mark.parametrize("modem", [{"pin": "4711"}], indirect=True)
async def test_a_sim_pin_without_a_configured_pin_is_a_permanent_error(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    with pytest.raises(RejectedByGateway) as caught:
        await gateway().send(PHONE, "Code 123456")
    assert caught.value.code == "pin_required"
    assert not caught.value.retryable


@pytest.mark.parametrize("modem", [{"pin": "4711"}], indirect=True)
async def test_a_wrong_pin_is_never_tried_twice(modem: ModemEmulator, gateway: Gateway) -> None:
    provider = gateway(PIN="1234")
    with pytest.raises(SendError) as first:
        await provider.send(PHONE, "Code 123456")
    assert (first.value.code, first.value.retryable) == ("cme_16", False)
    with pytest.raises(SendError) as second:
        await provider.send(PHONE, "Code 123456")
    assert second.value.code == "pin_rejected"
    assert modem.commands.count('AT+CPIN="1234"') == 1  # three wrong tries would lock the SIM
    await gateway(PIN="4711").send(PHONE, "Code 123456")
    assert [sent.text for sent in modem.sent] == ["Code 123456"]


async def test_text_mode_send_arrives_as_typed(modem: ModemEmulator, gateway: Gateway) -> None:
    text = "Code 123456, valid 5 min. ÄÖÜ äöü ñ §¿¡ (#1)"
    result = await gateway().send(PHONE, text)
    assert modem.sent == [Sent(PHONE, text, [text], [0], "text", "gsm7", None)]
    assert (result.message_ids, result.parts) == (["0"], 1)


async def test_unicode_goes_as_one_ucs2_pdu(modem: ModemEmulator, gateway: Gateway) -> None:
    text = "Код 123456 ✓"
    result = await gateway().send(PHONE, text)
    assert modem.sent == [Sent(PHONE, text, [text], [0], "pdu", "ucs2", None)]
    assert "AT+CMGF=0" in modem.commands
    assert (result.message_ids, result.parts) == (["0"], 1)


async def test_a_400_char_gsm7_message_goes_as_3_concatenated_parts_and_reassembles_exactly(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    text = ("Pay 100$ to Zoé @ Café_Ñ: ΔΦΓ " * 20)[:400]
    result = await gateway().send(PHONE, text)
    [sent] = modem.sent
    assert sent.text == text
    assert [len(part) for part in sent.parts] == [153, 153, 94]
    assert (sent.mode, sent.encoding) == ("pdu", "gsm7")
    headers = [sub.concat for sub in modem.submissions]
    assert [(total, seq) for _, total, seq in filter(None, headers)] == [(3, 1), (3, 2), (3, 3)]
    assert len({reference for reference, _, _ in filter(None, headers)}) == 1
    assert (result.message_ids, result.parts) == (["0", "1", "2"], 3)


async def test_long_unicode_is_split_into_67_character_parts(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    text = "Ваш код 123456. " * 10
    result = await gateway().send(PHONE, text)
    assert [len(part) for part in modem.sent[0].parts] == [67, 67, 26]
    assert modem.sent[0].text == text
    assert result.parts == 3


@pytest.mark.parametrize(
    "text",
    [
        "{}[]€~\\|^ and a form feed \f",
        "a" * 152 + "€ an escape pair never straddles two parts",
    ],
)
async def test_gsm7_extension_characters_round_trip(
    modem: ModemEmulator, gateway: Gateway, text: str
) -> None:
    await gateway().send(PHONE, text)
    [sent] = modem.sent
    assert sent.text == text
    assert sent.encoding == "gsm7"
    if len(sent.parts) > 1:
        assert sent.parts[0] == "a" * 152


async def test_unsolicited_lines_mid_command_are_ignored(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    noise = ["RING", '+CMTI: "SM",3', "^BOOT:12345,0,0,0,75", "+CREG: 1", "+CSQ: 21,99"]
    modem.unsolicited = [*noise, "NO CARRIER"]  # before every prompt and every answer
    modem.inject(*noise)  # and waiting before the first command
    provider = gateway()
    short = await provider.send(PHONE, "Code 123456")
    long = await provider.send(PHONE, "x" * 200)
    assert [sent.text for sent in modem.sent] == ["Code 123456", "x" * 200]
    assert (short.message_ids, long.message_ids) == (["0"], ["1", "2"])


@pytest.mark.parametrize(
    ("code", "kind", "meaning"),
    [
        (331, TemporaryFailure, "no network service"),
        (332, TemporaryFailure, "network timeout"),
        (42, TemporaryFailure, "congestion"),
        (500, TemporaryFailure, "unknown error"),
        (27, TemporaryFailure, "destination out of service"),  # temporary in TS 24.011 8.4
        (38, TemporaryFailure, "network out of order"),  # temporary in TS 24.011 table 8.4
        (1, RejectedNumber, "unassigned number"),
        (8, RejectedNumber, "operator determined barring"),
        (10, RejectedNumber, "call barred"),
        (21, RejectedNumber, "short message transfer rejected"),
        (28, RejectedNumber, "unidentified subscriber"),
        (29, RejectedNumber, "facility rejected"),
        (30, RejectedNumber, "unknown subscriber"),
        (195, RejectedNumber, "invalid SME address"),
        (196, RejectedNumber, "destination SME barred"),
        (50, RejectedByGateway, "facility not subscribed"),
        (304, RejectedByGateway, "invalid PDU mode parameter"),
    ],
)
async def test_cms_error_is_mapped_to_a_send_error(
    modem: ModemEmulator, gateway: Gateway, code: int, kind: type[SendError], meaning: str
) -> None:
    provider = gateway()
    modem.cms_errors = [code]
    with pytest.raises(SendError) as caught:
        await provider.send(PHONE, "Code 123456")
    assert caught.value.code == f"cms_{code}"
    assert type(caught.value) is kind
    assert f"+CMS ERROR: {code}" in caught.value.message
    assert meaning in caught.value.message
    await provider.send(PHONE, "Code 654321")  # the modem stays usable
    assert [sent.text for sent in modem.sent] == ["Code 654321"]
    # The network's verdicts leave the modem's settings alone; other errors re-initialise it.
    verdict = code < 300 or code in (331, 332)
    assert modem.commands.count("ATE0") == (1 if verdict else 2)


@pytest.mark.parametrize("fault", ["silent", "stall"])
async def test_timeout_recovers_and_the_next_send_works(
    modem: ModemEmulator, gateway: Gateway, fault: str
) -> None:
    provider = gateway(TIMEOUT="0.3")
    await provider.send(PHONE, "first")
    escapes = modem.escapes
    if fault == "silent":
        modem.silent = True  # not even the "> " prompt
    else:
        modem.stall = 1  # takes the message, never answers
    with pytest.raises(TimedOut) as caught:
        await provider.send(PHONE, "lost")
    assert (caught.value.code, caught.value.retryable) == ("timeout", True)
    await eventually(lambda: modem.escapes == escapes + 1)  # ESC left the prompt at once
    modem.silent = False
    await provider.send(PHONE, "third")
    assert [sent.text for sent in modem.sent] == ["first", "third"]
    assert modem.commands.count("ATE0") == 2  # re-initialised after the timeout


@pytest.mark.parametrize("modem", [{"pin": "4711"}], indirect=True)
async def test_a_modem_that_rebooted_is_initialised_again_after_its_error(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    provider = gateway(PIN="4711")
    await provider.send(PHONE, "one")
    modem.reboot()  # PIN, echo and message format are gone
    with pytest.raises(TemporaryFailure) as caught:
        await provider.send(PHONE, "two")
    assert caught.value.code == "cms_311"
    await provider.send(PHONE, "three")
    assert modem.commands.count('AT+CPIN="4711"') == 2
    assert [sent.text for sent in modem.sent] == ["one", "three"]


async def test_a_cancelled_send_leaves_the_modem_usable(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    provider = gateway()
    await provider.send(PHONE, "one")
    modem.stall = 1
    task = asyncio.create_task(provider.send(PHONE, "cancelled"))
    await eventually(lambda: modem.stall == 0)  # the modem took the message
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await provider.send(PHONE, "three")
    assert [sent.text for sent in modem.sent] == ["one", "three"]


async def test_a_missing_device_is_unreachable(gateway: Gateway, tmp_path: Path) -> None:
    with pytest.raises(Unreachable) as caught:
        await gateway(PORT=tmp_path / "ttyUSB9").send(PHONE, "Code 123456")
    assert (caught.value.code, caught.value.retryable) == ("serial", True)
    assert "ttyUSB9" in caught.value.message


async def test_a_device_that_went_away_is_reopened_on_the_next_send(gateway: Gateway) -> None:
    first = ModemEmulator().start()
    provider = gateway(PORT=first.path)
    await provider.send(PHONE, "one")
    first.stop()  # like a USB modem resetting: the open connection is dead
    async with ModemEmulator() as second:
        if second.path != first.path:
            pytest.skip("the kernel did not hand out the same pty again")
        await provider.send(PHONE, "two")
        assert second.commands[0] == "ATE0"
        assert [sent.text for sent in second.sent] == ["two"]


@pytest.mark.parametrize("modem", [{"delay": 0.01}], indirect=True)
async def test_20_concurrent_sends_through_two_gateways_on_one_device_never_interleave(
    modem: ModemEmulator, gateway: Gateway, tmp_path: Path
) -> None:
    alias = tmp_path / "ttyModem"
    alias.symlink_to(modem.path)  # another name for the same device shares its lock
    providers = [gateway(), gateway(PORT=alias)]
    texts = [
        [f"Code {i:06d}", f"Код {i:06d} ✓", f"Long message {i:02d} " + "x" * 160][i % 3]
        for i in range(20)
    ]
    results = await asyncio.gather(
        *(providers[i % 2].send(PHONE, text) for i, text in enumerate(texts))
    )
    assert modem.interleave_errors == []
    assert sorted(sent.text for sent in modem.sent) == sorted(texts)  # each exactly once
    refs = [ref for result in results for ref in result.message_ids]
    assert len(set(refs)) == len(refs) == len(modem.submissions)


async def test_closing_one_gateway_keeps_the_device_open_for_another(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    first, second = gateway(), gateway()
    await first.send(PHONE, "one")
    await second.send(PHONE, "two")
    await first.aclose()
    await second.send(PHONE, "three")
    assert modem.commands.count("ATE0") == 1  # same connection, no new init
    await second.aclose()
    await gateway().send(PHONE, "four")  # the last close closed it; the next send reopens
    assert modem.commands.count("ATE0") == 2
    assert [sent.text for sent in modem.sent] == ["one", "two", "three", "four"]


@pytest.mark.parametrize(
    ("regexp", "phone", "number"),
    [
        ("/[ -]//", "+49 170 123-4567", "+491701234567"),
        ("/^\\+/00/", "+491701234567", "00491701234567"),
    ],
)
@pytest.mark.parametrize("text", ["Code 123456", "Код 123456"])
async def test_regexp_rewrites_the_phone_number(
    modem: ModemEmulator, gateway: Gateway, regexp: str, phone: str, number: str, text: str
) -> None:
    await gateway(REGEXP=regexp).send(phone, text)
    assert modem.sent[0].number == number


async def test_mode_pdu_sends_even_plain_text_as_a_pdu(
    modem: ModemEmulator, gateway: Gateway
) -> None:
    await gateway(MODE="pdu").send(PHONE, "Code 123456")
    assert (modem.sent[0].mode, modem.sent[0].text) == ("pdu", "Code 123456")
    assert 'AT+CSCS="GSM"' not in modem.commands


@pytest.mark.parametrize("text", ["Код 123456", "x" * 161, "price: 5€", "user@example"])
async def test_mode_text_refuses_what_only_pdu_mode_carries(
    modem: ModemEmulator, gateway: Gateway, text: str
) -> None:
    with pytest.raises(RejectedByGateway) as caught:
        await gateway(MODE="text").send(PHONE, text)
    assert (caught.value.code, caught.value.retryable) == ("text_mode", False)
    assert modem.commands == []


@pytest.mark.parametrize(
    "phone",
    [
        '+49"; AT+CFUN=0',
        "",
        "+49 170",
        "+491701234567\n",
        "+" + "".join(chr(0x0660 + int(d)) for d in "491701234567"),  # Arabic-Indic digits
        "+" + "".join(chr(0xFF10 + int(d)) for d in "491701234567"),  # fullwidth digits
    ],
)
async def test_a_number_that_is_not_one_never_reaches_the_modem(
    modem: ModemEmulator, gateway: Gateway, phone: str
) -> None:
    with pytest.raises(RejectedNumber) as caught:
        await gateway().send(phone, "Code 123456")
    assert (caught.value.code, caught.value.retryable) == ("invalid", False)
    assert modem.commands == []


def test_registry_validate_rejects_mode_fast_naming_mode() -> None:
    with pytest.raises(OptionsInvalid) as caught:
        registry.validate(NAME, {"PORT": "/dev/ttyUSB0", "MODE": "fast"})
    assert [key for key, _ in caught.value.errors] == ["MODE"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("PIN", "12ab"), ("SMSC", '+49"'), ("BAUDRATE", "fast"), ("TIMEOUT", "0"), ("PORT", "")],
)
def test_bad_options_are_named(key: str, value: str) -> None:
    raw = {"PORT": "/dev/ttyUSB0"} | {key: value}
    with pytest.raises(OptionsInvalid) as caught:
        registry.validate(NAME, raw)
    assert [k for k, _ in caught.value.errors] == [key]


def test_the_provider_schema_lists_exactly_the_contract_options() -> None:
    parameters = registry.schema()[NAME]["parameters"]
    assert set(parameters) == {"PORT", "BAUDRATE", "PIN", "SMSC", "MODE", "TIMEOUT", "REGEXP"}
    assert parameters["PORT"]["required"] is True
    assert parameters["PIN"]["secret"] is True
    assert parameters["MODE"]["values"] == ["text", "pdu", "auto"]
    assert (parameters["BAUDRATE"]["default"], parameters["TIMEOUT"]["default"]) == (
        "115200",
        "10.0",
    )
    assert registry.secret_keys(NAME) == {"PIN"}


async def test_the_emulator_detects_interleaved_commands() -> None:
    async with ModemEmulator() as modem:
        fd = os.open(modem.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b'ATE0\rAT+CMGF=1\rAT+CSCS="GSM"\rAT+CMGS="+4917"\r')
            os.write(fd, b"AT\r")  # a second gateway, not waiting for the first
            await eventually(lambda: len(modem.interleave_errors) == 1)
        finally:
            os.close(fd)
