"""What a scrape adds to the counted metrics: gauges read from the database at that moment.

Outbox depth and circuit states are facts about shared rows, not about any one process, so
they are computed once per scrape instead of being counted by each worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.observability import multiprocess
from app.services.circuit import Circuit


@dataclass(eq=False)  # the registry keys collectors by identity
class DatabaseGauges(Collector):
    waiting: dict[str, tuple[int, datetime | None]]
    circuits: dict[str, Circuit]
    now: datetime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "smsgw_outbox_messages", "Messages waiting in the outbox, by state", labels=["status"]
        )
        age = GaugeMetricFamily(
            "smsgw_outbox_oldest_age_seconds",
            "Age of the oldest message waiting in the outbox, by state (0: none waiting)",
            labels=["status"],
        )
        for status, (count, oldest) in sorted(self.waiting.items()):
            depth.add_metric([status], count)
            age.add_metric([status], (self.now - oldest).total_seconds() if oldest else 0.0)
        circuit = GaugeMetricFamily(
            "smsgw_circuit_open",
            "1 while a gateway's circuit is open or half-open (routes skip it), else 0",
            labels=["gateway", "state"],
        )
        for gateway, state in sorted(self.circuits.items()):
            circuit.add_metric([gateway, state.state], 1.0 if state.open else 0.0)
        yield from (depth, age, circuit)


def exposition(extra: Iterable[Collector]) -> bytes:
    """The text format: every process's counts, then the gauges read for this scrape."""
    counted = generate_latest(multiprocess.registry())
    scraped = CollectorRegistry()
    for collector in extra:
        scraped.register(collector)
    return counted + generate_latest(scraped)
