"""`tollgate bench fairness`: a light key's first tokens timed while a heavy key floods."""

from __future__ import annotations

from typer.testing import CliRunner

from services.bench.fairness import FORMAT, run_fairness_bench
from services.cli import app


def test_every_mode_times_the_light_keys_first_tokens_on_a_fake_engine() -> None:
    results = run_fairness_bench(
        heavy_concurrency=6,
        light_requests=2,
        sequences=2,
        max_tokens=4,
        ttft_ms=5,
        itl_ms=2,
        warmup_s=0.3,
    )
    assert results["format"] == FORMAT and results["engine"]["kind"] == "fake"
    assert set(results["modes"]) == {"fcfs", "engine", "cap"}
    for run in results["modes"].values():
        assert len(run["light_ttft_ms"]["all"]) == 2
        assert all(t > 0 for t in run["light_ttft_ms"]["all"])
        assert run["heavy_requests_per_s"] > 0
    assert results["max_in_flight"] == 2  # the cap run uses the engine's sequences


def test_the_command_is_registered_and_refuses_an_unknown_mode() -> None:
    result = CliRunner().invoke(app, ["bench", "fairness", "--mode", "lottery"])
    assert result.exit_code != 0
    assert "lottery" in result.output
