"""`tollgate bench ledger`, `routing` and `revocation`: each runs and reports what it measured."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from tests.gateway.db.databases import POSTGRES_URL
from tests.processes import run_cli, tollgate_env

runner = CliRunner()


def test_routing_reports_the_cost_of_each_case_per_request() -> None:
    result = runner.invoke(app, ["bench", "routing", "--rounds", "2000", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rounds"] == 2000
    costs = report["microseconds_per_request"]
    assert set(costs) == {"alias, key and team lists", "plain model, no lists"}
    assert all(micros > 0 for micros in costs.values())


def test_ledger_fills_the_ledger_times_every_report_query_and_empties_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    result = runner.invoke(
        app, ["bench", "ledger", "--url", url, "--rows", "3000", "--batch", "1000", "--repeat", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "3,000 rows over 90 days" in result.stdout
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 2 + 7 + 1  # header and rule, the seven report queries, the prune
    assert "| whole ledger by day (90 days) | 91 | 3,000 |" in result.stdout
    emptied = runner.invoke(app, ["bench", "ledger", "--url", url, "--rows", "1", "--repeat", "1"])
    assert "| whole ledger by model | 1 | 1 |" in emptied.stdout  # the first run's rows are gone


def test_ledger_refuses_a_url_it_cannot_use_with_a_clear_message() -> None:
    result = runner.invoke(app, ["bench", "ledger", "--url", "mysql://nowhere/x", "--rows", "1"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_revocation_times_each_revoked_key_until_the_other_gateway_refuses_it(
    tmp_path: Path,
) -> None:
    done = run_cli(
        "bench", "revocation", "--rounds", "2", "--json",
        "--database-url", POSTGRES_URL, "--redis-url", "redis://127.0.0.1:6379/11",
        env=tollgate_env(tmp_path),
        timeout_s=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rounds"] == 2 and len(report["refused_after_ms"]) == 2
    assert all(ms >= 0 for ms in report["refused_after_ms"])


def test_revocation_needs_postgresql() -> None:
    url = f"sqlite+aiosqlite:////tmp/{uuid.uuid4().hex}.db"
    result = runner.invoke(app, ["bench", "revocation", "--database-url", url])
    assert result.exit_code == 1
    assert "PostgreSQL" in result.output
