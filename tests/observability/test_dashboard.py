"""deploy/grafana/smsgw.json: importable as is, and every metric it queries is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "smsgw.json"
SUFFIXES = {"counter": ("",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported(text: str) -> set[str]:
    """Every series name /metrics can carry, from its TYPE lines (present with no samples;
    a counter's TYPE line already names its _total series)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names |= {name + suffix for suffix in SUFFIXES.get(kind, ("",))}
    return names


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


async def test_every_metric_the_dashboard_queries_is_one_the_service_exports(anonymous_api):
    reply = await anonymous_api.client.get("/metrics")
    names = exported(reply.text)
    used = {m for expr in queries() for m in re.findall(r"\bsmsgw_[a-z0-9_]+", expr)}
    assert used, "the dashboard queries nothing"
    assert used <= names, f"not exported: {sorted(used - names)}"


def test_the_dashboard_has_the_panels_an_operator_needs():
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for needed in (
        "sends per second by gateway and outcome",
        "delivery ratio",
        "p50 / p95 / p99",
        "outbox depth",
        "oldest waiting",
        "open circuits",
        "challenge accept rate",
    ):
        assert needed in titles
    # Importable as is: the data source is chosen at import, never a uid from elsewhere.
    sources = {json.dumps(p["datasource"]) for p in dashboard["panels"]}
    assert sources == {json.dumps({"type": "prometheus", "uid": "${datasource}"})}
    assert dashboard["templating"]["list"][0]["type"] == "datasource"
