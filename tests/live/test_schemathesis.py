"""Property-based run of schemathesis over the whole OpenAPI document against the live
service: no 500, no answer that violates its schema, no undocumented status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def admin_token(live_service) -> str:
    body = json.dumps({"username": live_service.username, "password": live_service.password})
    request = urllib.request.Request(
        live_service.url + "/auth",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as reply:
        return str(json.load(reply)["result"]["value"]["token"])


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_service, tmp_path):
    token = admin_token(live_service)
    result = subprocess.run(
        [
            str(VENV_BIN / "st"),
            "run",
            live_service.url + "/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            # Excluded, each for a reason of design, not to hide a failure:
            # - not_a_server_error flags every 5xx, but a gateway that cannot send is a
            #   documented 502; no_internal_error (schemathesis_hooks.py) fails on any 500.
            # - positive_data_acceptance: whether options are valid depends on the provider
            #   the body names (each has its own model), which a JSON schema cannot say.
            # - negative_data_rejection: like privacyIDEA, the service accepts lenient forms
            #   the types do not list (a Unix timestamp for a time, "1" for true).
            # - unsupported_method: privacyIDEA's paths overlap (/smsgateway/{gwid} for GET,
            #   /smsgateway/{name} for DELETE), so one URL legitimately allows both.
            "--exclude-checks",
            "not_a_server_error,positive_data_acceptance,negative_data_rejection,"
            "unsupported_method",
            "--max-examples",
            "25",
            "--generation-deterministic",
            # A generated admin policy would lock the token's admin out of everything else
            # and leave the rest of the run testing only 403s.
            "--exclude-operation-id",
            "set_policy",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.live.schemathesis_hooks"},
        cwd=Path(__file__).resolve().parents[2],
    )
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    print(summary)  # the figures: operations, test cases, failures
    assert result.returncode == 0, result.stdout[-8000:]
