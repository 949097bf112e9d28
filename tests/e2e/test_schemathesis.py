"""schemathesis over the whole OpenAPI document, against the live service, with every check
on: no 500, no answer that violates its schema, no undocumented status code or content type,
every schema-valid request accepted and every schema-violating one refused, stateful
sequences included. The few exclusions are listed beside CHECKS with their reasons.

At least 100 examples per operation (the default here, what CI runs);
E2E_SCHEMATHESIS_EXAMPLES=500 runs a heavier search locally.

The run goes through schemathesis' engine (what `st run` drives) rather than its pytest
plugin: `schemathesis.pytest.from_fixture` sets `Node._nodeid`, which pytest 9.2 removed,
and the engine gives the run's figures in one place.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import Status, events, from_schema

from app.schemas.policy import ADMIN_ACTIONS
from tests.e2e.conftest import LiveService

MAX_EXAMPLES = max(100, int(os.environ.get("E2E_SCHEMATHESIS_EXAMPLES", "100")))
SEED = int(os.environ.get("E2E_SCHEMATHESIS_SEED", "20251125"))
# An admin policy that grants the run's admin everything. Policies add up, so whatever
# policies schemathesis creates cannot take a right away from the admin while this one stands.
KEEPER = "e2e-admin-may-do-everything"
POLICY_WRITES = frozenset({"POST /policy/{name}", "DELETE /policy/{name}"})

# E2E_SCHEMATHESIS_OPERATIONS=set_gateway,send_sms runs only those operations (while working).
ONLY = [o for o in os.environ.get("E2E_SCHEMATHESIS_OPERATIONS", "").split(",") if o]
# The document gives REGEXP options the format "regexp-substitution": /pattern/replacement/
# whose pattern compiles, which JSON Schema cannot state; schemathesis generates such values.
SUBSTITUTIONS = st.builds(
    lambda pattern, replacement: f"/{pattern}/{replacement}/",
    st.sampled_from([r"[+-/. ]", r"^00", r"\D", r"^\+49", "", "(0)", r"[^0-9+]"]),
    st.text(alphabet="0123456789+-", max_size=4),
)
# The formats of an HTTP gateway's delivery-report options, which JSON Schema cannot state.
ID_FIELDS = st.sampled_from(["message_id", "data.messages.id", "/id=([0-9a-f]+)/", r"/(\d+)/"])
STATUS_MAPS = st.lists(
    st.tuples(
        st.text(alphabet="0123456789ABCDEFabc", min_size=1, max_size=8),
        st.sampled_from(["accepted", "enroute", "delivered", "undeliverable", "unknown"]),
    ),
    min_size=1,
    max_size=4,
).map(lambda pairs: ",".join(f"{status}={state}" for status, state in pairs))

# Every check is on, with schemathesis' own expectations, everywhere but in the places below.
CHECKS: dict[str, Any] = {}
# Each exclusion is behaviour the OpenAPI document states, and the reason it stays.
EXCLUSIONS: list[dict[str, Any]] = [
    # A gateway that cannot send is answered 502 (code 801), as POST /sms/send documents:
    # the service is fine, the SMS gateway behind it is not (the run's gateways point
    # nowhere). Any other 5xx there still fails, and a 502 anywhere else.
    # The same Idempotency-Key with a different body is a 422 naming the header, as the
    # operation documents and as the IETF Idempotency-Key draft prescribes for a key reused
    # with another payload: schemathesis draws keys from a small alphabet, so a schema-valid
    # request may repeat one it sent before with another body, and is rightly refused. No
    # schema can say "a key you have not used yet"; 409 (in schemathesis' defaults) would
    # be the draft's answer to a concurrent request with the same key, not to this.
    {
        "include-operation-id": "send_sms",
        "checks": {
            "not_a_server_error": {"expected-statuses": ["2xx", "4xx", "502"]},
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
            },
        },
    },
    # privacyIDEA's contract: DELETE /smsgateway/{identifier} deletes by *name*, while
    # GET /smsgateway/{identifier} reads by numeric *id* (both descriptions say so), so a
    # DELETE followed by a GET of the same URL addresses two different things.
    {"include-operation-id": "get_gateway", "checks": {"use_after_free": {"enabled": False}}},
    # A delivery report's fields are named by its gateway's options (DLR_ID_FIELD,
    # DLR_STATUS_FIELD, DLR_STATUS_MAP) and must name a message the gateway sent, which no
    # schema can state: once the stateful phase has a real token (from rotate_dlr_token), a
    # schema-valid report is rightly a 400 naming the missing field or a 404 naming the id.
    # Schema-violating requests must still be refused (negative checks stay on).
    *(
        {
            "include-operation-id": operation,
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
        for operation in ("delivery_report_get", "delivery_report_post")
    ),
]


@dataclass
class Figures:
    """What the run did, for the test's output and its failure message."""

    cases: Counter[str] = field(default_factory=Counter)
    phases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, event: events.ScenarioFinished) -> None:
        recorder = event.recorder
        self.cases[recorder.label] += len(recorder.cases)
        self.phases[event.phase.value] += len(recorder.cases)
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[interaction.response.status_code] += 1
        for checks in recorder.checks.values():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.append(
                        f"{recorder.label} ({event.phase.value}) {check.name}: {failure.title}\n"
                        f"{failure.message}\n{check.failure_info.code_sample}"
                    )

    def operations(self) -> list[str]:
        return sorted(label for label in self.cases if " /" in label)

    def summary(self, total_operations: int, seconds: float) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        phases = ", ".join(f"{phase}: {n}" for phase, n in self.phases.most_common())
        return (
            f"schemathesis (seed {SEED}, max_examples {MAX_EXAMPLES}): "
            f"{len(self.operations())}/{total_operations} operations tested, "
            f"{sum(self.cases.values())} test cases ({phases}), "
            f"{sum(self.statuses.values())} responses ({statuses}), "
            f"{len(self.failures)} failures, {len(self.errors)} errors, {seconds:.1f} s"
        )


def keep_the_admin_policy(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> bool:
    """Generated policy writes may not overwrite or delete the keeper (the run learns its
    name from GET /policy/ and the audit trail)."""
    if case.operation.label not in POLICY_WRITES:
        return True
    return bool(case.path_parameters and case.path_parameters.get("name") != KEEPER)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_service: LiveService, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {"Authorization": f"Bearer {live_service.login()}"}
    keeper = {"scope": "admin", "action": list(ADMIN_ACTIONS), "adminuser": live_service.username}
    reply = httpx.post(f"{live_service.url}/policy/{KEEPER}", json=keeper, headers=headers)
    assert reply.status_code == 200, reply.text
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "checks": CHECKS,
            "operations": EXCLUSIONS,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "request-timeout": 30,
            # One thread: CPython 3.11.7 can raise "AST constructor recursion depth mismatch"
            # when two threads build ASTs at once (python/cpython#106905), as hypothesis
            # does when it describes a strategy.
            "workers": 1,
            # Nothing of the run is kept between runs: each starts from the seed alone.
            "cache": {"enabled": False},
        }
    )
    schemathesis.openapi.format("regexp-substitution", SUBSTITUTIONS)
    schemathesis.openapi.format("message-id-field", ID_FIELDS)
    schemathesis.openapi.format("status-map", STATUS_MAPS)
    schema = schemathesis.openapi.from_url(f"{live_service.url}/openapi.json", config=config)
    if ONLY:
        schema = schema.include(operation_id=ONLY)
    schema.hook("filter_case")(keep_the_admin_policy)

    figures = Figures()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            figures.record(event)
        elif isinstance(event, events.NonFatalError):
            figures.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            figures.errors.append(f"fatal: {event.exception!r}")
    summary = figures.summary(schema.statistic.operations.total, time.monotonic() - started)
    with capsys.disabled():
        print(f"\n{summary}")

    report = "\n\n".join([summary, *figures.errors, *figures.failures])
    assert not figures.errors, report
    assert not figures.failures, report
    assert 500 not in figures.statuses, report
    assert len(figures.operations()) == schema.statistic.operations.total, report
    # The run ends with the admin still able to work: no generated policy locked it out.
    reply = httpx.get(f"{live_service.url}/smsgateway", headers=headers)
    assert reply.status_code == 200, reply.text
    assert "unexpected error" not in live_service.log.read_text(errors="replace"), (
        live_service.log_tail()
    )
