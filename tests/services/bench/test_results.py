"""Results files: secrets masked, foreign files refused, comparisons matched by load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.bench.compare import compare_results
from services.bench.results import ResultsError, load_results, redact_argv


def test_command_line_masks_the_key_and_auth_headers() -> None:
    argv = [
        "tollgate", "bench", "run", "--api-key", "tg-one", "--api-key=tg-two",
        "-H", "Authorization: Bearer tg-three", "--header=x-api-key: tg-four",
        "--header", "x-team: blue",
    ]  # fmt: skip
    redacted = " ".join(redact_argv(argv))
    for secret in ("tg-one", "tg-two", "tg-three", "tg-four"):
        assert secret not in redacted
    assert "x-team: blue" in redacted and "--api-key ***" in redacted


def test_a_file_that_is_not_bench_results_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"steps": []}))
    with pytest.raises(ResultsError, match="not a `tollgate bench run` results file"):
        load_results(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ResultsError, match="not a readable JSON"):
        load_results(broken)
    with pytest.raises(ResultsError, match="no such file"):
        load_results(tmp_path / "missing.json")


def step(concurrency: int, rps: float, p50: float, p99: float) -> dict[str, Any]:
    latency = {"p50": p50, "p90": p50, "p99": p99}
    return {
        "label": f"c={concurrency}",
        "concurrency": concurrency,
        "rate": None,
        "request_throughput": rps,
        "output_throughput": rps * 10,
        "e2e_ms": latency,
        "ttft_ms": latency,
        "itl_ms": None,
        "errors": 0,
    }


def test_comparison_gives_ratios_and_added_milliseconds_per_matching_load() -> None:
    base = {"label": "direct", "steps": [step(1, 100, 10, 20), step(4, 300, 12, 30)]}
    other = {"label": "gateway", "steps": [step(4, 294, 13, 34), step(16, 500, 20, 50)]}
    comparison = compare_results(base, other)
    assert [row["load"] for row in comparison["rows"]] == ["c=4"]
    row = comparison["rows"][0]
    assert row["throughput_ratio"] == 0.98
    assert row["added_e2e_p50_ms"] == 1.0 and row["added_e2e_p99_ms"] == 4.0
    assert row["added_itl_p50_ms"] is None
    assert comparison["only_in_base"] == ["c=1"] and comparison["only_in_other"] == ["c=16"]
