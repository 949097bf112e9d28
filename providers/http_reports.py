"""What an HTTP gateway's answers and delivery reports carry: the message id in its submit
answer, and the id, status and error fields of the report it calls back with."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from providers.base import RECEIPT_STATES, Receipt

# A gateway's own words for the states, when no DLR_STATUS_MAP says otherwise: ours, and
# SMPP's `stat:` values, which many HTTP gateways pass on.
DEFAULT_STATUS_MAP = {
    **{state: state for state in RECEIPT_STATES},
    "DELIVRD": "delivered",
    "EXPIRED": "undeliverable",
    "DELETED": "undeliverable",
    "UNDELIV": "undeliverable",
    "REJECTD": "undeliverable",
    "ACCEPTD": "accepted",
    "ENROUTE": "enroute",
    "UNKNOWN": "unknown",
}
_REGEX_FORM = re.compile(r"^/(?P<pattern>.+)/$", re.DOTALL)


class ReportUnreadable(ValueError):
    """A delivery report that does not say what the gateway's options say it must."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_id_field(value: str | None) -> str | None:
    """MESSAGE_ID_FIELD: a JSON path (a.b.c) or /regex/ with exactly one group."""
    if not value:
        return None
    match = _REGEX_FORM.match(value)
    if match:
        try:
            compiled = re.compile(match["pattern"])
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from exc
        if compiled.groups != 1:
            raise ValueError("a /regex/ must have exactly one group: the id")
    return value


def parse_status_map(value: str | None) -> dict[str, str]:
    """DLR_STATUS_MAP: a JSON object or `status=state,...`, each state one of ours."""
    if not value:
        return dict(DEFAULT_STATUS_MAP)
    pairs: dict[str, Any]
    if value.lstrip().startswith("{"):
        try:
            pairs = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc.msg}") from None
        if not isinstance(pairs, dict):
            raise ValueError("not a JSON object")
    else:
        pairs = {}
        for item in value.split(","):
            status, sep, state = item.partition("=")
            if not sep or not status.strip():
                raise ValueError(f"{item.strip()!r} is not status=state")
            pairs[status.strip()] = state.strip()
    wrong = [f"{k}={v}" for k, v in pairs.items() if v not in RECEIPT_STATES]
    if wrong:
        raise ValueError(
            f"{', '.join(wrong)[:200]}: each state must be one of {', '.join(RECEIPT_STATES)}"
        )
    return {str(k): str(v) for k, v in pairs.items()}


def _at(data: Any, path: str) -> list[Any]:
    """Every value at a dotted path; a list on the way stands for each of its items."""
    found = [data]
    for key in path.split("."):
        step: list[Any] = []
        for item in found:
            items = item if isinstance(item, list) else [item]
            step += [i[key] for i in items if isinstance(i, dict) and key in i]
        found = step
    flat: list[Any] = []
    for item in found:
        flat += item if isinstance(item, list) else [item]
    return flat


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def message_ids(field: str | None, text: str) -> list[str]:
    """The ids a submit answer carries (several for a long message); none when `field` is
    unset or the answer has none."""
    if not field:
        return []
    match = _REGEX_FORM.match(field)
    if match:
        return [found for found in re.findall(match["pattern"], text) if found]
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    return [s for s in (_scalar(v) for v in _at(data, field)) if s is not None]


def read_report(
    data: Mapping[str, Any],
    *,
    id_field: str,
    status_field: str,
    error_field: str | None,
    status_map: Mapping[str, str],
) -> Receipt:
    """The receipt a report's fields (query, form or JSON, merged) describe."""
    ids = [s for s in (_scalar(v) for v in _at(dict(data), id_field)) if s is not None]
    if len(ids) != 1:
        problem = "missing" if not ids else "given more than once"
        raise ReportUnreadable(id_field, f"the message id field is {problem}")
    statuses = [s for s in (_scalar(v) for v in _at(dict(data), status_field)) if s is not None]
    if len(statuses) != 1:
        problem = "missing" if not statuses else "given more than once"
        raise ReportUnreadable(status_field, f"the status field is {problem}")
    status = statuses[0]
    state = status_map.get(status)
    if state is None:
        folded = {k.casefold(): v for k, v in status_map.items()}
        state = folded.get(status.casefold())
    if state is None:
        raise ReportUnreadable(
            status_field, f"status {status[:64]!r} is not in the gateway's DLR_STATUS_MAP"
        )
    error = ""
    if error_field:
        errors = [s for s in (_scalar(v) for v in _at(dict(data), error_field)) if s]
        error = errors[0] if errors else ""
    if len(ids[0]) > 255:
        raise ReportUnreadable(id_field, "the message id is longer than 255 characters")
    return Receipt(provider_id=ids[0], state=state, provider_status=status[:64], error=error)
