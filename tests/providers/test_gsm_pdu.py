"""The SMS-SUBMIT codec: GSM-7 packing, addresses, splitting, PDUs and error causes."""

from __future__ import annotations

from typing import Literal

import pytest

from providers import gsm_pdu
from providers.gsm_pdu import (
    encode_number,
    error_cause,
    gsm7_decode,
    gsm7_septets,
    pack_septets,
    split,
    submit_pdus,
    text_mode_bytes,
    unpack_septets,
)
from tests.peers.modem_emulator import decode_submit


@pytest.mark.parametrize(
    ("text", "packed"),
    [
        ("hellohello", "E8329BFD4697D9EC37"),  # the 3GPP-tutorial classic
        ("12345678", "31D98C56B3DD70"),  # eight septets fill seven octets exactly
        ("@", "00"),
        ("", ""),
    ],
)
def test_gsm7_packing_matches_known_vectors(text: str, packed: str) -> None:
    septets = gsm7_septets(text)
    assert septets is not None
    assert pack_septets(septets).hex().upper() == packed
    assert gsm7_decode(unpack_septets(bytes.fromhex(packed), len(text))) == text


@pytest.mark.parametrize("fill", range(7))
def test_packing_after_fill_bits_round_trips(fill: int) -> None:
    septets = gsm7_septets("Fill bits align septets after a header")
    assert septets is not None
    packed = pack_septets(septets, fill)
    assert packed[0] & ((1 << fill) - 1) == 0  # the fill bits are zero
    assert unpack_septets(packed, len(septets), fill) == septets


def test_the_default_alphabet_and_its_extension_table() -> None:
    assert len(gsm_pdu.GSM7_BASIC) == 128
    assert gsm7_septets("@£$¥èéùìòÇ") == list(range(10))
    assert gsm7_septets("ΔΞÆßÉ ¤¡Ä§¿äà") == [
        0x10, 0x1A, 0x1C, 0x1E, 0x1F, 0x20, 0x24, 0x40, 0x5B, 0x5F, 0x60, 0x7B, 0x7F,
    ]  # fmt: skip
    assert gsm7_septets("{}[]€~\\|^\f") == [
        0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x3C, 0x1B, 0x3E, 0x1B, 0x65,
        0x1B, 0x3D, 0x1B, 0x2F, 0x1B, 0x40, 0x1B, 0x14, 0x1B, 0x0A,
    ]  # fmt: skip
    extension = "{}[]€~\\|^\f"
    assert gsm7_decode(gsm7_septets(extension) or []) == extension


@pytest.mark.parametrize("text", ["ç", "ë", "Код", "✓", "😀", "\x1b", "`"])
def test_characters_outside_the_alphabet_need_ucs2(text: str) -> None:
    assert gsm7_septets(text) is None
    assert split(text)[0] == "ucs2"


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("Code 123456", b"Code 123456"),
        ("¿Ä§ñ", b"\x60\x5b\x5f\x7d"),  # the modem reads bytes as GSM septets (AT+CSCS="GSM")
        ("x" * 160, b"x" * 160),
    ],
)
def test_text_mode_bytes_are_septets(text: str, typed: bytes) -> None:
    assert text_mode_bytes(text) == typed


@pytest.mark.parametrize(
    "text",
    ["x" * 161, "Код", "5€", "a@b", "$5", "_", "Ξ", "line\nbreak", "ò"],
)
def test_text_mode_is_refused_for_control_septets_extensions_and_long_text(text: str) -> None:
    assert text_mode_bytes(text) is None


@pytest.mark.parametrize(
    ("number", "encoded"),
    [
        ("+491701234567", "0C91947110325476"),
        ("+46708251358", "0B916407281553F8"),  # odd digit count: padded with F
        ("12345", "05812143F5"),  # no '+': unknown type of number
        ("*100#", "05811A00FB"),  # * and # are the semi-octets A and B
    ],
)
def test_destination_addresses_are_swapped_semi_octets(number: str, encoded: str) -> None:
    assert encode_number(number).hex().upper() == encoded


@pytest.mark.parametrize("number", ["", "+", "49 170", "+49-170", '+49";', "1" * 21])
def test_anything_but_a_number_is_refused(number: str) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        encode_number(number)


def test_a_single_gsm7_pdu_matches_the_known_vector() -> None:
    [pdu] = submit_pdus("+46708251358", "hellohello", reference=0)
    # SCA 00, SUBMIT 01, MR 00, DA, PID 00, DCS 00, UDL 0A, packed "hellohello"
    assert pdu.hex == "0001000B916407281553F800000AE8329BFD4697D9EC37"
    assert pdu.length == 22


def test_a_single_ucs2_pdu() -> None:
    [pdu] = submit_pdus("+491701234567", "Код ✓", reference=0)
    assert pdu.hex == "0001000C9194711032547600080A041A043E043400202713"
    assert pdu.length == len(bytes.fromhex(pdu.hex)) - 1


@pytest.mark.parametrize(
    ("text", "encoding", "sizes"),
    [
        ("a" * 160, "gsm7", [160]),
        ("a" * 161, "gsm7", [153, 8]),
        ("a" * 400, "gsm7", [153, 153, 94]),
        ("€" * 80, "gsm7", [80]),  # 160 septets
        ("€" * 81, "gsm7", [76, 5]),  # 152 septets: the 77th pair would straddle
        ("Ж" * 70, "ucs2", [70]),
        ("Ж" * 71, "ucs2", [67, 4]),
        ("😀" * 35, "ucs2", [35]),  # 70 UTF-16 units
        ("😀" * 36, "ucs2", [33, 3]),  # never half a surrogate pair
    ],
)
def test_split_into_parts(text: str, encoding: str, sizes: list[int]) -> None:
    got_encoding, parts = split(text)
    assert got_encoding == encoding
    assert [len(part) for part in parts] == sizes
    assert "".join(parts) == text


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="parts"):
        split("a" * 153 * 256)


@pytest.mark.parametrize("text", ["Ü@{x}€ " * 60, "Ваш код 123456 😀 " * 12])
def test_concatenated_pdus_decode_and_reassemble(text: str) -> None:
    pdus = submit_pdus("+491701234567", text, reference=0x2A)
    decoded = [decode_submit(pdu.hex, pdu.length) for pdu in pdus]
    assert [sub.concat for sub in decoded] == [(0x2A, len(pdus), i + 1) for i in range(len(pdus))]
    assert "".join(sub.text for sub in decoded) == text
    assert {sub.number for sub in decoded} == {"+491701234567"}
    assert all(pdu.hex[2:4] == "41" for pdu in pdus)  # TP-UDHI set


def test_the_first_gsm7_part_carries_header_fill_and_153_septets() -> None:
    [first, _] = submit_pdus("+4917", "a" * 161, reference=7)
    tpdu = bytes.fromhex(first.hex)[1:]
    user_data_length, user_data = tpdu[8], tpdu[9:]  # after SUBMIT, MR, DA (4), PID, DCS
    assert user_data_length == 160  # 7 header septets + 153
    assert user_data[:6] == bytes([5, 0, 3, 7, 2, 1])
    assert user_data[6] == ord("a") << 1  # one fill bit before the first septet


@pytest.mark.parametrize(
    ("family", "code", "retryable"),
    [
        ("cms", 331, True),
        ("cms", 332, True),
        ("cms", 42, True),
        ("cms", 47, True),
        ("cms", 500, True),
        ("cms", 513, True),  # manufacturer specific
        ("cms", 21, False),
        ("cms", 1, False),
        ("cms", 304, False),
        ("cms", 305, False),
        ("cme", 16, False),  # wrong PIN: never retried
        ("cme", 14, True),
        ("cme", 999, False),
    ],
)
def test_error_causes(family: Literal["cms", "cme"], code: int, retryable: bool) -> None:
    meaning, may_retry = error_cause(family, code)
    assert may_retry is retryable
    assert meaning
