"""A benchmark against the fake engine: counts, percentiles, errors by kind, processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.bench import BenchSpec, Distribution, parse_steps, run_benchmark
from services.fake_engine import FakeEngineConfig, running_fake_engine


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with running_fake_engine(FakeEngineConfig(ttft_ms=5, itl_ms=1)) as url:
        yield url


def make_spec(url: str, **overrides: Any) -> BenchSpec:
    values: dict[str, Any] = {
        "base_url": url,
        "model": "fake-model",
        "steps": parse_steps("1,4", None),
        "requests": 20,
        "prompt_tokens": Distribution.parse("uniform:8:16"),
        "output_tokens": Distribution.parse("6"),
    }
    values.update(overrides)
    return BenchSpec(**values)


def assert_ordered(dist: dict[str, float]) -> None:
    assert dist["min"] <= dist["p50"] <= dist["p90"] <= dist["p99"] <= dist["max"]


def test_streamed_sweep_counts_every_request_and_orders_percentiles(engine: str) -> None:
    events: list[tuple[Any, ...]] = []
    results = run_benchmark(make_spec(engine), events.append, argv=["tollgate", "bench", "run"])
    assert results["format"] == "tollgate-bench/1"
    assert results["command"] == "tollgate bench run"
    assert results["machine"]["cpu_count"] and results["versions"]["httpx"]
    assert [s["concurrency"] for s in results["steps"]] == [1, 4]
    for step in results["steps"]:
        assert (step["requests"], step["completed"], step["errors"]) == (20, 20, 0)
        assert step["output_tokens"] == 20 * 6
        assert step["request_throughput"] > 0 and step["output_throughput"] > 0
        for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
            assert_ordered(step[metric])
        assert step["ttft_ms"]["p50"] <= step["e2e_ms"]["p50"]
    assert sum(e[2] for e in events if e[0] == "progress") == 40
    assert ("phase", 1, "done") in events


def test_plain_answers_have_no_time_to_first_token(engine: str) -> None:
    results = run_benchmark(make_spec(engine, stream=False, endpoint="completions"))
    step = results["steps"][0]
    assert step["completed"] == 20 and step["ttft_ms"] is None and step["itl_ms"] is None
    assert_ordered(step["e2e_ms"])


def test_rate_steps_send_the_requested_number(engine: str) -> None:
    results = run_benchmark(make_spec(engine, steps=parse_steps(None, "200", 4), requests=15))
    step = results["steps"][0]
    assert (step["rate"], step["max_concurrency"], step["completed"]) == (200.0, 4, 15)


def test_duration_bounds_a_step_without_a_request_count(engine: str) -> None:
    results = run_benchmark(make_spec(engine, requests=None, duration_s=0.3, warmup=0))
    for step in results["steps"]:
        assert step["completed"] > 0 and step["errors"] == 0


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("status-503", "http_503"), ("die-mid-stream:2", "connection_broken"),
     ("error-mid-stream:2", "stream_error")],
)  # fmt: skip
def test_failures_are_counted_by_kind(engine: str, fault: str, kind: str) -> None:
    spec = make_spec(engine, steps=parse_steps("2", None), requests=6, warmup=0,
                     headers=(("x-fake-fault", fault),))  # fmt: skip
    step = run_benchmark(spec)["steps"][0]
    assert (step["completed"], step["errors"]) == (0, 6)
    assert step["errors_by_kind"] == {kind: 6}


def test_several_client_processes_share_the_load(engine: str) -> None:
    results = run_benchmark(
        make_spec(engine, steps=parse_steps("4", None), requests=30, processes=2)
    )
    step = results["steps"][0]
    assert (step["requests"], step["completed"], step["errors"]) == (30, 30, 0)
    assert results["spec"]["processes"] == 2
