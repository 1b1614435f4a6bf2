"""`tollgate bench run | compare | plot` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.fake_engine import FakeEngineConfig, running_fake_engine

runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with running_fake_engine(FakeEngineConfig(api_key="tg-bench-secret", itl_ms=1)) as url:
        yield url


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["bench", *args])
    return result.exit_code, result.output


def run_to(engine: str, out: Path, label: str, *extra: str) -> tuple[int, str]:
    return bench(
        "run", "--url", f"{engine}/v1", "-c", "1,2", "-n", "8", "--output-tokens", "4",
        "--api-key", "tg-bench-secret", "--label", label, "--out", str(out), *extra,
    )  # fmt: skip


def test_run_writes_results_and_a_png_and_never_the_key(engine: str, tmp_path: Path) -> None:
    code, output = run_to(engine, tmp_path / "a.json", "direct", "--plot", str(tmp_path / "a.png"))
    assert code == 0, output
    saved = (tmp_path / "a.json").read_text()
    results = json.loads(saved)
    assert results["label"] == "direct" and results["spec"]["model"] == "fake-model"
    assert [s["completed"] for s in results["steps"]] == [8, 8]
    assert "tg-bench-secret" not in saved and "tg-bench-secret" not in output
    assert "--api-key ***" in results["command"]
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_prints_ratios_and_plot_draws_both(engine: str, tmp_path: Path) -> None:
    assert run_to(engine, tmp_path / "a.json", "direct")[0] == 0
    assert run_to(engine, tmp_path / "b.json", "again")[0] == 0
    code, output = bench("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert code == 0, output
    assert "again vs direct" in output and "c=2" in output and "x" in output
    code, output = bench("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    rows = json.loads(output)[0]["rows"]
    assert [r["load"] for r in rows] == ["c=1", "c=2"]
    assert all(r["throughput_ratio"] > 0 for r in rows)
    code, output = bench("plot", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                         "--out", str(tmp_path / "ab.png"))  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "ab.png").read_bytes()[:4] == b"\x89PNG"


def test_wrong_key_or_no_endpoint_fail_clearly(engine: str, tmp_path: Path) -> None:
    code, output = bench("run", "--url", engine, "--api-key", "wrong", "-n", "1")
    assert code == 2 and "answered 401" in output and "wrong" not in output
    code, output = bench("run", "--url", "http://127.0.0.1:9", "-n", "1")
    assert code == 2 and "cannot reach" in output


def test_bad_options_and_files_are_refused(tmp_path: Path) -> None:
    code, output = bench("run", "--url", "http://127.0.0.1:9", "--model", "m",
                         "--output-tokens", "lots")  # fmt: skip
    assert code == 2 and "cannot read length" in output
    (tmp_path / "x.json").write_text("{}")
    code, output = bench("compare", str(tmp_path / "x.json"), str(tmp_path / "x.json"))
    assert code == 2 and "not a `tollgate bench run` results file" in output
    code, output = bench("compare", str(tmp_path / "x.json"))
    assert code == 2 and "at least two" in output
