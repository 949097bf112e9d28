"""A client generated from the live /openapi.json by openapi-python-client logs in and
manages a gateway: the document is precise enough for the tools admins use (design.md §7)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveService

VENV_BIN = Path(sys.executable).parent
PACKAGE = "smsgw_client"
HTTP_PROVIDER = "providers.http.HttpProvider"


@pytest.fixture(scope="module")
def document(live_service: LiveService) -> dict[str, Any]:
    reply = httpx.get(f"{live_service.url}/openapi.json")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


@pytest.fixture(scope="module")
def generated_client(
    live_service: LiveService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The package openapi-python-client writes for the live document, imported."""
    where = tmp_path_factory.mktemp("generated")
    (where / "openapi.json").write_bytes(httpx.get(f"{live_service.url}/openapi.json").content)
    result = subprocess.run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(where / "openapi.json"),
            "--output-path",
            str(where / PACKAGE),
            "--meta",
            "none",
            "--fail-on-warning",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        # Its post-generation hooks run `ruff`, which lives beside it in the virtualenv.
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("header", "prefix"),
    [("Authorization", "Bearer"), ("Authorization", ""), ("PI-Authorization", "")],
    ids=["bearer", "bare-jwt", "pi-authorization"],
)
def test_the_generated_client_logs_in_creates_lists_and_deletes_a_gateway(
    generated_client: ModuleType, live_service: LiveService, header: str, prefix: str
) -> None:
    from smsgw_client.api.auth import login
    from smsgw_client.api.smsgateway import delete_gateway, list_gateways, set_gateway
    from smsgw_client.models import (
        AuthAnswer,
        AuthIn,
        CountAnswer,
        GatewayIdAnswer,
        GatewayIn,
        GatewayInOptions,
        GatewayListAnswer,
        GatewayOut,
    )

    anonymous = generated_client.Client(base_url=live_service.url)
    answer = login.sync(
        client=anonymous,
        body=AuthIn(username=live_service.username, password=live_service.password),
    )
    assert isinstance(answer, AuthAnswer)
    assert answer.result.authentication == "ACCEPT"
    assert answer.result.value.role == "admin"
    admin = generated_client.AuthenticatedClient(
        base_url=live_service.url,
        token=answer.result.value.token,
        prefix=prefix,
        auth_header_name=header,
    )

    name = f"generated-{header}-{prefix or 'bare'}".lower()
    url = "https://sms.example.com/send"
    created = set_gateway.sync_detailed(
        client=admin,
        body=GatewayIn(
            name=name,
            module=HTTP_PROVIDER,
            description="made by a generated client",
            options=GatewayInOptions.from_dict({"URL": url, "HTTP_METHOD": "POST"}),
        ),
    )
    assert created.status_code == 200, created.content
    assert isinstance(created.parsed, GatewayIdAnswer)
    gateway_id = created.parsed.result.value
    assert isinstance(gateway_id, int)

    listed = list_gateways.sync(client=admin)
    assert isinstance(listed, GatewayListAnswer)
    [gateway] = [g for g in listed.result.value if g.name == name]
    assert isinstance(gateway, GatewayOut)
    assert gateway.id == gateway_id
    assert gateway.providermodule == HTTP_PROVIDER
    assert gateway.description == "made by a generated client"
    assert gateway.options.to_dict() == {"URL": url, "HTTP_METHOD": "POST"}

    deleted = delete_gateway.sync(name, client=admin)
    assert isinstance(deleted, CountAnswer)
    assert deleted.result.value == 1
    after = list_gateways.sync(client=admin)
    assert isinstance(after, GatewayListAnswer)
    assert name not in {g.name for g in after.result.value}


def test_the_generated_client_reads_a_refused_token_as_a_typed_error(
    generated_client: ModuleType, live_service: LiveService
) -> None:
    from smsgw_client.api.smsgateway import list_gateways
    from smsgw_client.models import ErrorEnvelope

    forged = generated_client.AuthenticatedClient(base_url=live_service.url, token="not-a-jwt")
    answer = list_gateways.sync_detailed(client=forged)
    assert answer.status_code == 401
    assert isinstance(answer.parsed, ErrorEnvelope)
    assert answer.parsed.result.status is False
    assert answer.parsed.result.error.code == 4304


def test_the_document_is_openapi_3_1_with_json_bodies_except_the_oauth2_form(
    document: dict[str, Any],
) -> None:
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            # One body with two content types breaks openapi-python-client 0.29 (its #1451).
            expected = (
                {"application/x-www-form-urlencoded"}
                if path == "/auth/token"
                else {"application/json"}
            )
            assert not content or set(content) == expected, f"{method.upper()} {path}"


def test_every_operation_has_a_unique_readable_operation_id(document: dict[str, Any]) -> None:
    ids = [
        operation.get("operationId", "")
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    assert all(i.isidentifier() and i == i.lower() for i in ids), ids
    assert len(ids) == len(set(ids)), ids
    assert {"login", "oauth2_token", "set_gateway", "list_gateways", "delete_gateway"} <= set(ids)
