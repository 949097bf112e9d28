"""Checks of our own for the schemathesis run (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import schemathesis


@schemathesis.check
def no_internal_error(
    ctx: object, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A 500 is a bug; a 502 is the documented answer when a gateway cannot send."""
    if response.status_code == 500:
        raise AssertionError(f"500 Internal Server Error: {response.text[:500]}")
