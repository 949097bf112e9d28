"""A client generated from /openapi.json by openapi-python-client logs in and manages a
gateway: the document is precise enough for the tools admins use."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def generated(live_service, tmp_path_factory):
    where = tmp_path_factory.mktemp("generated")
    with urllib.request.urlopen(live_service.url + "/openapi.json") as reply:
        (where / "openapi.json").write_bytes(reply.read())
    result = subprocess.run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(where / "smsgw_client"),
        ],
        cwd=where,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("smsgw_client")
    finally:
        sys.path.remove(str(where))


@pytest.mark.parametrize("prefix", ["Bearer", ""], ids=["bearer", "bare"])
def test_generated_client_logs_in_creates_lists_and_deletes_a_gateway(
    generated, live_service, prefix
):
    from smsgw_client.api.auth import login
    from smsgw_client.api.smsgateway import delete_gateway, list_gateways, set_gateway
    from smsgw_client.models import AuthIn, GatewayIn, GatewayInOptions

    anonymous = generated.Client(base_url=live_service.url)
    answer = login.sync(
        client=anonymous,
        body=AuthIn(username=live_service.username, password=live_service.password),
    )
    assert answer.result.authentication == "ACCEPT"
    admin = generated.AuthenticatedClient(
        base_url=live_service.url, token=answer.result.value.token, prefix=prefix
    )

    name = f"generated-{prefix or 'bare'}"
    options = GatewayInOptions.from_dict({"URL": "https://sms.example.com/send", "to": "{phone}"})
    created = set_gateway.sync(
        client=admin,
        body=GatewayIn(name=name, module="providers.http.HttpProvider", options=options),
    )
    gateway_id = created.result.value
    assert isinstance(gateway_id, int)

    listed = list_gateways.sync(client=admin)
    [gateway] = [g for g in listed.result.value if g.name == name]
    assert gateway.id == gateway_id
    assert gateway.options.to_dict() == {"URL": "https://sms.example.com/send", "to": "{phone}"}

    deleted = delete_gateway.sync(client=admin, identifier=name)
    assert deleted.result.value == 1
    assert all(g.name != name for g in list_gateways.sync(client=admin).result.value)


def test_generated_client_sees_errors_as_typed_envelopes(generated, live_service):
    from smsgw_client.api.smsgateway import list_gateways
    from smsgw_client.models import ErrorEnvelope

    anonymous = generated.AuthenticatedClient(base_url=live_service.url, token="forged")
    answer = list_gateways.sync(client=anonymous)
    assert isinstance(answer, ErrorEnvelope)
    assert answer.result.error.code == 4304


def test_the_document_declares_json_bodies_only_except_the_oauth2_form(live_service):
    with urllib.request.urlopen(live_service.url + "/openapi.json") as reply:
        document = json.load(reply)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            expected = (
                ["application/x-www-form-urlencoded"]
                if path == "/auth/token"
                else ["application/json"]
            )
            assert not content or list(content) == expected, path
    assert document["openapi"].startswith("3.1")
