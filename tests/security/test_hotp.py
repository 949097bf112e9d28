"""HOTP against RFC 4226's test vectors."""

import pytest

from app.security.hotp import hotp, matches

RFC_KEY = b"12345678901234567890"
RFC_VALUES = ["755224", "287082", "359152", "969429", "338314",
              "254676", "287922", "162583", "399871", "520489"]  # fmt: skip


@pytest.mark.parametrize(("counter", "expected"), enumerate(RFC_VALUES))
def test_rfc4226_appendix_d_vectors(counter, expected):
    assert hotp(RFC_KEY, counter) == expected


def test_eight_digits_extend_the_same_truncation():
    assert hotp(RFC_KEY, 0, 8) == "84755224"


def test_matches_compares_the_otp_at_the_counter():
    assert matches(RFC_KEY, 1, 6, "287082")
    assert not matches(RFC_KEY, 1, 6, "755224")
