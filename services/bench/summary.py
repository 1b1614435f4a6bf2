"""From raw records to the numbers a step reports: throughput, latency percentiles, errors.

Latencies are in milliseconds. `ttft_ms` exists only for streamed runs; `itl_ms` is over
every gap between tokens; `tpot_ms` is each answer's mean time per token after the first
(vLLM's benchmark names). Throughput divides by the step's wall time, from the first
measured request sent to the last answer, over every client process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from services.bench.runner import StepRaw
from services.bench.workload import Step

PERCENTILES = (50, 90, 99)


def distribution(
    values: Iterable[float] | np.ndarray, scale: float = 1000.0
) -> dict[str, float] | None:
    """mean, p50, p90, p99, min, max of `values` (seconds -> ms by default); None when empty."""
    data = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    if data.size == 0:
        return None
    data = data * scale
    points = np.percentile(data, PERCENTILES)
    return {
        "mean": round(float(data.mean()), 3),
        **{f"p{p}": round(float(v), 3) for p, v in zip(PERCENTILES, points, strict=True)},
        "min": round(float(data.min()), 3),
        "max": round(float(data.max()), 3),
        "count": int(data.size),
    }


def summarize_step(step: Step, raws: Sequence[StepRaw]) -> dict[str, Any]:
    records = [record for raw in raws for record in raw.records]
    ok = [r for r in records if r.ok]
    started = min((raw.started for raw in raws if raw.records), default=0.0)
    ended = max((raw.ended for raw in raws if raw.records), default=0.0)
    duration = max(ended - started, 1e-9) if records else 0.0
    output_tokens = sum(r.output_tokens for r in ok)
    prompt_tokens = sum(r.prompt_tokens for r in ok)
    gaps = (
        np.concatenate([np.frombuffer(raw.gaps, dtype=float) for raw in raws])
        if raws
        else np.array([])
    )
    tpots = [
        (r.e2e - r.ttft) / (r.output_tokens - 1)
        for r in ok
        if r.ttft is not None and r.output_tokens > 1
    ]
    per_second = (lambda n: round(n / duration, 3)) if duration else (lambda n: 0.0)
    return {
        "label": step.label,
        "concurrency": step.concurrency,
        "rate": step.rate,
        "max_concurrency": step.max_concurrency,
        "requests": len(records),
        "completed": len(ok),
        "errors": len(records) - len(ok),
        "errors_by_kind": dict(Counter(r.error for r in records if not r.ok and r.error)),
        "duration_s": round(duration, 3),
        "request_throughput": per_second(len(ok)),
        "output_throughput": per_second(output_tokens),
        "total_token_throughput": per_second(output_tokens + prompt_tokens),
        "prompt_tokens": prompt_tokens,
        "output_tokens": output_tokens,
        # Little's law: the mean number of requests in flight the target actually saw.
        "achieved_concurrency": round(sum(r.e2e for r in records) / duration, 3)
        if duration
        else 0.0,
        "ttft_ms": distribution(r.ttft for r in ok if r.ttft is not None),
        "itl_ms": distribution(gaps),
        "tpot_ms": distribution(tpots),
        "e2e_ms": distribution(r.e2e for r in ok),
        "output_tokens_per_request": distribution((r.output_tokens for r in ok), scale=1.0),
    }
