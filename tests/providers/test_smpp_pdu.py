"""The SMPP 3.4 codec: what goes on the wire, octet for octet."""

from __future__ import annotations

import asyncio

import pytest

from providers import smpp_pdu as pdu
from tests.peers import smpp_server


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


# Golden bytes, written octet by octet from the SMPP 3.4 specification (sections 3.2 and
# 4.1-4.7), not produced by this codec: a bug shared by encoder and decoder cannot hide here.
BIND_TRANSMITTER = bytes.fromhex(
    "00000022"  # command_length: 16 + 18
    "00000002"  # command_id: bind_transmitter
    "00000000"  # command_status
    "00000001"  # sequence_number
    "736d73677700"  # system_id "smsgw"
    "73656372657400"  # password "secret"
    "00"  # system_type: none
    "34"  # interface_version 3.4
    "05"  # addr_ton
    "00"  # addr_npi
    "00"  # address_range: none
)
SUBMIT_SM_HEADER = (
    "00"  # service_type: the SMSC's default
    "05" "00" "736d73677700"  # source_addr_ton, _npi, "smsgw"
    "01" "01" "34393137303132333435363700"  # dest_addr_ton, _npi, "491701234567"
)  # fmt: skip
SUBMIT_SM_TAIL = (
    "00" "00"  # protocol_id, priority_flag
    "00" "00"  # schedule_delivery_time, validity_period: both empty
    "00" "00"  # registered_delivery, replace_if_present_flag
    "00" "00"  # data_coding: SMSC default alphabet, sm_default_msg_id
)  # fmt: skip
SUBMIT_SM = bytes.fromhex(
    "00000034" "00000004" "00000000" "00000002"  # 16 + 36 octets, submit_sm, seq 2
    + SUBMIT_SM_HEADER
    + "00"  # esm_class: default mode, no UDHI
    + SUBMIT_SM_TAIL
    + "02" "4869"  # sm_length, short_message "Hi": GSM-7 unpacked, one septet per octet
)  # fmt: skip
SUBMIT_SM_WITH_UDH = bytes.fromhex(
    "0000003a" "00000004" "00000000" "00000003"  # 16 + 42 octets, submit_sm, seq 3
    + SUBMIT_SM_HEADER
    + "40"  # esm_class: UDHI set
    + SUBMIT_SM_TAIL
    + "08"  # sm_length: 6 octets of header + 2 of text
    + "050003" "2a0201"  # UDHL 5, IEI 00 (concatenation, 8-bit ref), len 3; ref 42, part 1 of 2
    + "4869"
)  # fmt: skip
SUBMIT_SM_RESP = bytes.fromhex(
    "00000016" "80000004" "00000000" "00000002" "6d73672d3100"  # message_id "msg-1"
)  # fmt: skip
ENQUIRE_LINK = bytes.fromhex("00000010000000150000000000000007")
ENQUIRE_LINK_RESP = bytes.fromhex("00000010800000150000000000000007")
SOURCE, DESTINATION = pdu.Address(5, 0, "smsgw"), pdu.Address(1, 1, "491701234567")


def test_bind_transmitter_is_octet_for_octet_the_specifications():
    assert pdu.bind_transmitter(1, "smsgw", "secret", "", 5, 0).encode() == BIND_TRANSMITTER


def test_submit_sm_without_a_header_is_octet_for_octet_the_specifications():
    data_coding, [(esm_class, message)] = pdu.short_messages("Hi", 0)
    submit = pdu.SubmitSm(SOURCE, DESTINATION, esm_class, data_coding, message)
    assert submit.pdu(2).encode() == SUBMIT_SM


def test_submit_sm_with_a_concatenation_header_is_octet_for_octet_the_specifications():
    message = bytes.fromhex("0500032a0201") + b"Hi"
    submit = pdu.SubmitSm(SOURCE, DESTINATION, pdu.ESM_UDHI, 0, message)
    assert submit.pdu(3).encode() == SUBMIT_SM_WITH_UDH
    header, text = pdu.decode_text(0, pdu.ESM_UDHI, message)
    assert (header, text) == (bytes.fromhex("0500032a0201"), "Hi")


async def test_submit_sm_resp_from_the_specification_gives_its_message_id():
    reader = asyncio.StreamReader()
    reader.feed_data(SUBMIT_SM_RESP)
    answer = await pdu.read_pdu(reader)
    assert (answer.command_id, answer.status, answer.sequence) == (
        pdu.SUBMIT_SM | pdu.RESPONSE,
        0,
        2,
    )
    assert pdu.Fields(answer.body).cstring() == "msg-1"


def test_enquire_link_and_its_response_are_octet_for_octet_the_specifications():
    assert pdu.Pdu(pdu.ENQUIRE_LINK, 0, 7).encode() == ENQUIRE_LINK
    assert pdu.Pdu(pdu.ENQUIRE_LINK | pdu.RESPONSE, 0, 7).encode() == ENQUIRE_LINK_RESP


def test_a_c_octet_string_without_its_nul_is_a_pdu_error():
    with pytest.raises(pdu.PduError):
        pdu.Fields(b"msg-1").cstring()


def test_a_c_octet_string_must_be_ascii():
    with pytest.raises(pdu.PduError):
        pdu.cstring("smsgw-é", 16)


# deliver_sm (4.6.1) carrying a delivery receipt (esm_class 0x04, 5.2.12) in both forms: the
# text of appendix B and the optional parameters receipted_message_id (5.3.2.12) and
# message_state (5.3.2.35); then its deliver_sm_resp (4.6.2).
RECEIPT_TEXT = b"id:msg-1 stat:DELIVRD err:000"  # 29 octets
DELIVER_SM = bytes.fromhex(
    "0000005e" "00000005" "00000000" "00001388"  # 16 + 78 octets, deliver_sm, seq 5000
    "00"  # service_type
    "01" "01" "34393137303132333435363700"  # source: the phone the message went to
    "05" "00" "736d73677700"  # destination: our "smsgw"
    "04" "00" "00"  # esm_class: SMSC delivery receipt; protocol_id, priority_flag
    "00" "00"  # schedule_delivery_time, validity_period: NULL
    "00" "00" "00" "00"  # registered_delivery, replace_if_present, data_coding, sm_default
    "1d"  # sm_length 29
) + RECEIPT_TEXT + bytes.fromhex(
    "001e" "0006" "6d73672d3100"  # receipted_message_id "msg-1"
    "0427" "0001" "02"  # message_state DELIVERED
)  # fmt: skip
DELIVER_SM_RESP = bytes.fromhex(
    "00000011" "80000005" "00000000" "00001388" "00"  # message_id: unused, NULL
)  # fmt: skip


async def test_deliver_sm_from_the_specification_reads_as_a_receipt():
    reader = asyncio.StreamReader()
    reader.feed_data(DELIVER_SM)
    received = await pdu.read_pdu(reader)
    assert (received.command_id, received.sequence) == (pdu.DELIVER_SM, 5000)
    deliver = pdu.DeliverSm.parse(received.body)
    assert deliver.is_receipt and deliver.text() == RECEIPT_TEXT.decode()
    assert deliver.source == pdu.Address(1, 1, "491701234567")
    assert deliver.tlvs == {pdu.TLV_RECEIPTED_MESSAGE_ID: b"msg-1\0", pdu.TLV_MESSAGE_STATE: b"\2"}


def test_deliver_sm_resp_is_octet_for_octet_the_specifications():
    assert pdu.deliver_sm_resp(5000).encode() == DELIVER_SM_RESP


def test_the_test_smsc_writes_the_specifications_deliver_sm():
    body = smpp_server.deliver_sm_body(
        (1, 1, "491701234567"),
        (5, 0, "smsgw"),
        smpp_server.ESM_SMSC_RECEIPT,
        RECEIPT_TEXT,
        ((smpp_server.RECEIPTED_MESSAGE_ID, b"msg-1\0"), (smpp_server.MESSAGE_STATE, b"\2")),
    )
    assert smpp_server.encode(smpp_server.DELIVER_SM, 0, 5000, body) == DELIVER_SM


def test_bind_receiver_and_bind_transceiver_differ_from_bind_transmitter_only_in_command_id():
    transmitter = pdu.bind_transmitter(1, "smsgw", "secret", "", 5, 0).encode()
    for command_id in (pdu.BIND_RECEIVER, pdu.BIND_TRANSCEIVER):
        encoded = pdu.bind(command_id, 1, "smsgw", "secret", "", 5, 0).encode()
        assert encoded[8:] == transmitter[8:] and encoded[4:8] == command_id.to_bytes(4, "big")
    assert (pdu.BIND_RECEIVER, pdu.BIND_TRANSCEIVER) == (0x01, 0x09)  # 5.1.2.1


def test_a_tlv_running_past_the_body_is_a_pdu_error():
    with pytest.raises(pdu.PduError):
        pdu.DeliverSm.parse(DELIVER_SM[16:-1])
