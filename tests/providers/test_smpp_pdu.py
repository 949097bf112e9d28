"""The SMPP 3.4 codec: what goes on the wire, octet for octet."""

from __future__ import annotations

import asyncio

import pytest

from providers import smpp_pdu as pdu


def test_the_header_is_length_command_status_sequence_big_endian():
    encoded = pdu.Pdu(pdu.ENQUIRE_LINK, 0, 7).encode()
    assert encoded == bytes.fromhex("00000010000000150000000000000007")


def test_bind_transmitter_carries_the_account_and_interface_version_3_4():
    body = pdu.bind_transmitter(1, "smsgw", "secret", "", 5, 0).body
    assert body == b"smsgw\0secret\0\0" + bytes([0x34, 5, 0]) + b"\0"


def test_a_submit_sm_survives_the_round_trip():
    submit = pdu.SubmitSm(
        pdu.Address(5, 0, "smsgw"), pdu.Address(1, 1, "491701234567"), 0, 0, b"hello"
    )
    assert pdu.SubmitSm.parse(submit.pdu(3).body) == submit


def test_c_octet_strings_respect_their_limits():
    with pytest.raises(pdu.PduError):
        pdu.cstring("123456789", 9)  # 9 characters + NUL > 9 octets
    assert pdu.cstring("12345678", 9) == b"12345678\0"


def test_gsm7_is_one_septet_per_octet_with_escapes_for_the_extension_table():
    data_coding, [(esm_class, message)] = pdu.short_messages("a€", 0)
    assert (data_coding, esm_class) == (0, 0)
    assert message == bytes([0x61, 0x1B, 0x65])


def test_a_long_ucs2_message_gets_a_header_per_part():
    data_coding, parts = pdu.short_messages("й" * 100, 42)
    assert data_coding == 8 and len(parts) == 2
    assert [p[1][:6] for p in parts] == [bytes([5, 0, 3, 42, 2, n]) for n in (1, 2)]
    assert all(esm == pdu.ESM_UDHI and len(data) <= 140 for esm, data in parts)


async def test_a_pdu_claiming_an_absurd_length_is_refused():
    reader = asyncio.StreamReader()
    reader.feed_data(bytes.fromhex("7fffffff000000040000000000000001"))
    with pytest.raises(pdu.PduError):
        await pdu.read_pdu(reader)


def test_statuses_have_names_and_unknown_ones_their_number():
    assert pdu.status_name(0x58) == "ESME_RTHROTTLED"
    assert pdu.status_name(0x400) == "status 0x00000400"
