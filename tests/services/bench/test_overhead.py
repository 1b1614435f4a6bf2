"""`tollgate bench overhead`: direct vs through a real Tollgate gateway process, in one run."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app

runner = CliRunner()


def test_overhead_compares_direct_and_tollgate_with_cpu_and_memory(tmp_path: Path) -> None:
    out, plot = tmp_path / "overhead.json", tmp_path / "overhead.png"
    result = runner.invoke(
        app,
        ["bench", "overhead", "-c", "1,2", "--rounds", "2", "-n", "10", "--output-tokens", "4",
         "--out", str(out), "--plot", str(plot)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tollgate vs direct" in result.output
    report = json.loads(out.read_text())
    assert list(report["results"]) == ["direct", "tollgate"]
    gateway = report["results"]["tollgate"]
    for step in gateway["steps"]:
        assert step["rounds"] == 2
        assert step["completed"] == 20 and step["errors"] == 0  # every request got through
        assert step["gateway_cpu_ms_per_request"] > 0
    assert gateway["target"]["rss_rest_mb"] > 10
    assert gateway["target"]["rss_peak_mb"] >= gateway["target"]["rss_rest_mb"] * 0.9
    loads = [row["load"] for row in report["comparisons"][0]["rows"]]
    assert loads == ["c=1", "c=2"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "tg-" not in out.read_text()  # the gateway key it made is never saved
