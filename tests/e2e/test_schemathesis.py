"""schemathesis over the whole OpenAPI document, against the live service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from schemathesis import BaseSchema, Case

from app.schemas.policy import ADMIN_ACTIONS
from tests.e2e.conftest import LiveService

MAX_EXAMPLES = 15


class Tally:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()


TALLY = Tally()


@pytest.fixture(scope="module")
def api_schema(live_service: LiveService) -> BaseSchema:
    token = live_service.login()
    headers = {"Authorization": f"Bearer {token}"}
    reply = httpx.post(
        f"{live_service.url}/policy/e2e-admin-may-do-everything",
        json={"scope": "admin", "action": list(ADMIN_ACTIONS), "adminuser": live_service.username},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    config = schemathesis.Config.from_dict(
        {
            "seed": 1,
            "headers": headers,
            "generation": {"max-examples": MAX_EXAMPLES},
        }
    )
    return schemathesis.openapi.from_url(f"{live_service.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_schemathesis_finds_no_server_error_and_no_schema_violation(case: Case) -> None:
    TALLY.calls[case.operation.label] += 1
    try:
        case.call_and_validate()
    except Exception:
        TALLY.failed[case.operation.label] += 1
        raise


def test_print(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(TALLY.calls, TALLY.failed)
