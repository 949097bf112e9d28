"""Reading a delivery receipt: the text of SMPP 3.4 appendix B as SMSCs write it, the TLVs,
and the id forms RECEIPT_ID names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from providers import smpp_pdu as pdu
from providers.base import RECEIPT_STATES
from providers.smpp_receipt import (
    MESSAGE_STATES,
    STAT_STATES,
    UnreadableReceipt,
    read,
    submit_form,
)


def receipt(text: str, tlvs: dict[int, bytes] | None = None, esm_class: int = 0x04):
    address = pdu.Address(1, 1, "491701234567")
    return pdu.DeliverSm(address, address, esm_class, 0, text.encode("latin-1"), tlvs or {})


def test_every_stat_word_and_message_state_is_a_receipt_state():
    assert set(STAT_STATES.values()) <= set(RECEIPT_STATES)
    assert set(MESSAGE_STATES.values()) <= set(STAT_STATES)


def test_the_appendix_b_text_gives_id_state_time_and_error():
    text = (
        "id:1234567890 sub:001 dlvrd:000 submit date:2611302200 done date:2611302215 "
        "stat:UNDELIV err:034 text:Code 123456"
    )
    got = read(receipt(text), "as_is")
    assert (got.provider_id, got.state, got.provider_status, got.error) == (
        "1234567890",
        "undeliverable",
        "UNDELIV",
        "034",
    )
    assert got.reported_at == datetime(2026, 11, 30, 22, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        ("261130221507", datetime(2026, 11, 30, 22, 15, 7, tzinfo=UTC)),  # with seconds
        ("2613302215", None),  # no thirteenth month
        ("soon", None),
    ],
)
def test_a_done_date_is_read_when_it_can_be(done, expected):
    assert read(receipt(f"id:1 done date:{done} stat:DELIVRD"), "as_is").reported_at == expected


def test_keys_are_read_in_any_case_and_full_stat_words_are_understood():
    got = read(receipt("Id:abc Sub:001 Stat:delivered Err:0"), "as_is")
    assert (got.provider_id, got.state, got.error) == ("abc", "delivered", "")


def test_words_in_the_quoted_text_are_not_fields():
    got = read(receipt("id:abc stat:DELIVRD err:000 text:id:evil stat:REJECTD"), "as_is")
    assert (got.provider_id, got.state) == ("abc", "delivered")


def test_the_text_may_come_in_message_payload():
    payload = {pdu.TLV_MESSAGE_PAYLOAD: b"id:abc stat:ENROUTE"}
    assert read(receipt("", payload), "as_is").state == "enroute"


@pytest.mark.parametrize(
    ("text", "tlvs", "reason"),
    [
        ("sub:001 stat:DELIVRD", {}, "no receipted_message_id and no id:"),
        ("id:abc err:000", {}, "no message_state and no stat:"),
        ("id:abc stat:PARTY", {}, "is not a receipt state"),
        ("id: stat:DELIVRD", {}, "no receipted_message_id and no id:"),
        (f"id:{'1' * 66} stat:DELIVRD", {}, "not an SMPP message id"),
        ("", {pdu.TLV_RECEIPTED_MESSAGE_ID: b"abc\0", pdu.TLV_MESSAGE_STATE: b""}, "5.2.28"),
    ],
)
def test_an_unreadable_receipt_says_why(text, tlvs, reason):
    with pytest.raises(UnreadableReceipt) as error:
        read(receipt(text, tlvs), "as_is")
    assert reason in str(error.value)


@pytest.mark.parametrize(
    ("given", "form", "written"),
    [
        ("000000A1", "as_is", "000000A1"),
        ("000000A1", "decimal_to_hex", "a1"),  # receipts decimal: hex without padding or case
        ("0001001", "hex_to_decimal", "1001"),  # receipts hex: decimal without leading zeros
        ("msg-1", "decimal_to_hex", "msg-1"),  # not a number: as given
        ("1_000", "hex_to_decimal", "1_000"),  # int() would read it; an SMSC would not
    ],
)
def test_send_writes_the_submit_id_in_the_form_receipts_are_brought_to(given, form, written):
    assert submit_form(given, form) == written


@pytest.mark.parametrize(
    ("receipt_id", "form", "provider_id"),
    [
        ("3E9", "hex_to_decimal", "1001"),
        ("3e9", "hex_to_decimal", "1001"),
        ("161", "decimal_to_hex", "a1"),
    ],
)
def test_the_receipt_id_is_converted_as_receipt_id_says(receipt_id, form, provider_id):
    assert read(receipt(f"id:{receipt_id} stat:DELIVRD"), form).provider_id == provider_id
