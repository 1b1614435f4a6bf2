"""B against A, step by step: throughput ratios and the latency B adds, in milliseconds.

Steps are matched by their load (the same concurrency, or the same rate); a step only one side
has is reported as unmatched rather than compared with a different load.
"""

from __future__ import annotations

from typing import Any


def step_key(step: dict[str, Any]) -> tuple[str, float]:
    if step.get("rate") is not None:
        return ("rate", float(step["rate"]))
    return ("concurrency", float(step.get("concurrency") or 0))


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a == 0:
        return None
    return round(b / a, 4)


def _added(base: dict[str, Any], other: dict[str, Any], metric: str, point: str) -> float | None:
    a, b = base.get(metric), other.get(metric)
    if not a or not b:
        return None
    return round(b[point] - a[point], 3)


def compare_results(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Rows per matched step, plus the loads only one side measured."""
    base_steps = {step_key(s): s for s in base["steps"]}
    other_steps = {step_key(s): s for s in other["steps"]}
    rows = []
    for key in sorted(base_steps.keys() & other_steps.keys()):
        a, b = base_steps[key], other_steps[key]
        rows.append(
            {
                "load": a.get("label") or f"{key[0]}={key[1]:g}",
                "throughput_ratio": _ratio(a["request_throughput"], b["request_throughput"]),
                "output_throughput_ratio": _ratio(a["output_throughput"], b["output_throughput"]),
                "added_e2e_p50_ms": _added(a, b, "e2e_ms", "p50"),
                "added_e2e_p99_ms": _added(a, b, "e2e_ms", "p99"),
                "added_ttft_p50_ms": _added(a, b, "ttft_ms", "p50"),
                "added_ttft_p99_ms": _added(a, b, "ttft_ms", "p99"),
                "added_itl_p50_ms": _added(a, b, "itl_ms", "p50"),
                "base_errors": a["errors"],
                "errors": b["errors"],
            }
        )
    return {
        "base": base.get("label"),
        "other": other.get("label"),
        "rows": rows,
        "only_in_base": [
            base_steps[k].get("label") for k in sorted(base_steps.keys() - other_steps.keys())
        ],
        "only_in_other": [
            other_steps[k].get("label") for k in sorted(other_steps.keys() - base_steps.keys())
        ],
    }
