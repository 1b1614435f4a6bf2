"""`tollgate usage` as an operator types it: a table, JSON, CSV, clear errors, and pruning."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from gateway.db import Database
from gateway.db.models import UsageRecord
from services.cli import app
from tests.gateway.db.databases import database_url, db
from tests.gateway.usage.test_reports import row

__all__ = ["database_url", "db"]

runner = CliRunner()
NOW = datetime.now(UTC)


@pytest.fixture
async def ledger(
    db: Database, database_url: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    rows = [
        row(NOW - timedelta(hours=1), "key_alice", "red", "m1"),
        row(NOW - timedelta(hours=1), "key_alice", "red", "m2", completion_tokens=7),
        row(NOW - timedelta(days=40), "key_bob", "blue", "m1"),
    ]
    async with db.sessions() as session, session.begin():
        await session.execute(insert(UsageRecord), rows)
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("TOLLGATE_LOG_FORMAT", "json")
    return database_url


def test_usage_prints_a_table_by_key_by_default(ledger: str) -> None:
    result = runner.invoke(app, ["usage"])
    assert result.exit_code == 0, result.output
    assert "key_alice" in result.output and "key_bob" in result.output
    assert "total" in result.output


def test_usage_as_json_with_filters_and_grouping(ledger: str) -> None:
    result = runner.invoke(
        app, ["usage", "--team", "red", "--since", "7d", "--group-by", "model", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["group_by"] == ["model"]
    assert [(r["model"], r["completion_tokens"]) for r in report["data"]] == [("m1", 5), ("m2", 7)]
    assert report["totals"]["requests"] == 2


def test_usage_as_csv_by_day_and_team(ledger: str) -> None:
    result = runner.invoke(app, ["usage", "--group-by", "day", "--group-by", "team", "--csv"])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["team"] for r in table] == ["blue", "red", ""]
    assert table[-1]["start"] == "total" and table[-1]["requests"] == "3"


def test_bad_flags_are_explained_without_a_traceback(ledger: str) -> None:
    for args, words in (
        (["usage", "--since", "last tuesday"], "cannot read the time"),
        (["usage", "--group-by", "hour", "--group-by", "day"], "hour or day"),
        (["usage", "--json", "--csv"], "one of --json and --csv"),
        (["usage", "--group-by", "week"], "week"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output
        assert "Traceback" not in result.output


def test_prune_deletes_old_rows(ledger: str) -> None:
    result = runner.invoke(app, ["usage", "prune", "--older-than", "30", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 1
    left = json.loads(runner.invoke(app, ["usage", "--json"]).stdout)
    assert [r["key_id"] for r in left["data"]] == ["key_alice"]


def test_an_unreachable_database_is_a_plain_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", "postgresql+asyncpg://u:secret@127.0.0.1:9/x")
    result = runner.invoke(app, ["usage"])
    assert result.exit_code == 1
    assert "unavailable" in result.output and "secret" not in result.output
