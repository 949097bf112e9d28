"""prometheus-client's multiprocess mode for `serve --workers N`.

Every worker writes its counts to memory-mapped files in one directory and a scrape of any
worker adds up all the files, so /metrics shows the whole service, not whichever worker
answered. The directory is set before any worker starts (prometheus-client picks its
storage when first imported), emptied at each start (counts of an earlier run would be
added in), and a worker that exits is marked dead so its live gauges stop counting.
A single process keeps its counts in memory and needs none of this.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# prometheus_client is imported inside the functions only: it picks memory or files when
# first imported, and `prepare` runs in the process that gunicorn forks the workers from.
ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(directory: Path) -> Path:
    """Use `directory` (or the operator's PROMETHEUS_MULTIPROC_DIR) for this run, emptied."""
    chosen = Path(os.environ.get(ENV) or directory)
    if chosen.exists():
        shutil.rmtree(chosen)
    chosen.mkdir(parents=True, mode=0o700)
    os.environ[ENV] = str(chosen)
    return chosen


def active() -> bool:
    return bool(os.environ.get(ENV))


def worker_exited(pid: int) -> None:
    """Bookkeeping for a worker that is gone; its counters stay in the sums."""
    if active():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def registry() -> CollectorRegistry:
    """What a scrape reads: every worker's files, or this process's own metrics."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if not active():
        return REGISTRY

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged
