"""A whole benchmark: run every step, summarise it, and build the results document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.bench.results import build_results, now_iso
from services.bench.runner import EventSink, run_raw
from services.bench.summary import summarize_step
from services.bench.workload import BenchSpec


def run_benchmark(
    spec: BenchSpec, emit: EventSink | None = None, *, argv: Sequence[str] | None = None
) -> dict[str, Any]:
    """Run `spec` and return the results (see `results.build_results`); `emit` gets progress."""
    started_at = now_iso()
    raws = run_raw(spec, emit or (lambda _event: None))
    steps = [summarize_step(step, raw) for step, raw in zip(spec.steps, raws, strict=True)]
    return build_results(spec, steps, started_at=started_at, finished_at=now_iso(), argv=argv)
