"""`tollgate keys …` as a user types it: straight on the database, before any gateway runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from services.cli import app
from tests.gateway.db.databases import postgres_schema
from tests.gateway.keys.helpers import build_app, make_settings, serve

runner = CliRunner()


def keys(*args: str) -> Result:
    return runner.invoke(app, ["keys", *args])


def keys_json(*args: str) -> Any:
    result = keys(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("command", [[], ["create"], ["list"], ["show"], ["update"], ["revoke"]])
def test_every_keys_command_has_help(command: list[str]) -> None:
    result = keys(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_create_prints_the_key_once_as_json(data_dir: Path) -> None:
    made = keys_json(
        "create",
        "--name",
        "ci",
        "--team",
        "ml",
        "--tier",
        "batch",
        "--rpm",
        "5",
        "--tpm",
        "100",
        "--max-concurrency",
        "2",
        "--daily-tokens",
        "1000",
        "--monthly-tokens",
        "9000",
        "--models",
        "a, b",
        "--expires-in",
        "7",
    )
    assert made["key"].startswith("tg-") and made["id"].startswith("key_")
    assert (made["name"], made["team"], made["tier"]) == ("ci", "ml", "batch")
    assert made["allowed_models"] == ["a", "b"] and made["expires_at"]
    assert made["limits"] == {
        "rpm": 5,
        "tpm": 100,
        "max_concurrency": 2,
        "daily_tokens": 1000,
        "monthly_tokens": 9000,
    }
    assert (data_dir / "tollgate.db").exists()


def test_create_prints_only_the_key_on_stdout(data_dir: Path) -> None:
    result = keys("create", "--name", "me")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("tg-") and len(key) == 46
    assert key not in result.stderr and "cannot be shown again" in result.stderr


def test_keys_are_listed_without_the_keys(data_dir: Path) -> None:
    a = keys_json("create", "--name", "alice", "--team", "ml")
    b = keys_json("create", "--name", "bob")
    listed = keys_json("list")
    assert [k["id"] for k in listed["data"]] == [a["id"], b["id"]]
    assert [k["id"] for k in keys_json("list", "--team", "ml")["data"]] == [a["id"]]
    table = keys("list")
    assert table.exit_code == 0 and "alice" in table.stdout and a["id"] in table.stdout
    for key in (a["key"], b["key"]):
        assert key not in json.dumps(listed) and key not in table.output


def test_an_empty_list_says_how_to_make_a_key(data_dir: Path) -> None:
    result = keys("list")
    assert result.exit_code == 0 and "tollgate keys create" in result.stderr
    assert keys_json("list") == {"data": []}


def test_show_update_and_revoke(data_dir: Path) -> None:
    made = keys_json("create", "--name", "a", "--models", "m", "--rpm", "1", "--expires-in", "3")
    shown = keys("show", made["id"])
    assert shown.exit_code == 0 and "rpm=1" in shown.stdout
    updated = keys_json(
        "update", made["id"], "--rpm", "9", "--name", "b", "--clear", "models", "--clear", "expiry"
    )
    assert updated["limits"]["rpm"] == 9 and updated["name"] == "b"
    assert updated["allowed_models"] is None and updated["expires_at"] is None
    cleared = keys_json("update", made["id"], "--clear", "rpm")
    assert cleared["limits"]["rpm"] is None
    revoked = keys("revoke", made["id"])
    assert revoked.exit_code == 0 and "revoked" in revoked.stderr
    assert keys_json("show", made["id"])["revoked"] is True
    assert keys_json("list", "--active") == {"data": []}


@pytest.mark.parametrize("command", ["show", "revoke"])
def test_an_unknown_id_exits_1_with_a_message(data_dir: Path, command: str) -> None:
    result = keys(command, "key_000000000000000000000000")
    assert result.exit_code == 1
    assert "No API key with id 'key_000000000000000000000000'" in result.stderr


def test_a_pasted_key_is_not_repeated(data_dir: Path) -> None:
    made = keys_json("create", "--name", "a")
    result = keys("show", made["key"])
    assert result.exit_code == 1
    assert "not a key id" in result.stderr and made["key"] not in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "--name", "a", "--rpm", "0"], "--rpm"),
        (["create", "--name", "a", "--expires-in", "-1"], "--expires-in"),
        (["create", "--name", "a", "--models", ","], "--models"),
        (["create", "--name", "a", "--tier", "gold"], "gold"),
        (["create", "--name", ""], "--name"),
        (["create"], "--name"),
        (["update", "key_x"], "nothing to update"),
        (["update", "key_x", "--rpm", "2", "--clear", "rpm"], "contradicts"),
    ],
)
def test_bad_flags_exit_2_with_the_flag_named(data_dir: Path, args: list[str], says: str) -> None:
    result = keys(*args)
    assert result.exit_code == 2
    assert says in result.output


def test_an_unreachable_database_is_explained(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", "postgresql://tg:hunter2@127.0.0.1:9/tollgate")
    result = keys("list")
    assert result.exit_code == 1
    assert "unavailable" in result.stderr and "hunter2" not in result.output
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", "mysql://x@y/z")
    assert keys("list").exit_code == 2


async def test_a_key_made_before_the_gateway_runs_works_in_it(data_dir: Path) -> None:
    made = await asyncio.to_thread(keys_json, "create", "--name", "early")
    app_ = build_app(make_settings(data_dir, None))
    async with serve(app_) as client:
        response = await client.get("/tollgate/me", headers={"x-api-key": made["key"]})
    assert response.status_code == 200 and response.json()["id"] == made["id"]


async def test_the_cli_works_on_postgresql(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with postgres_schema() as url:
        monkeypatch.setenv("TOLLGATE_DATABASE_URL", url)
        made = await asyncio.to_thread(keys_json, "create", "--name", "pg", "--rpm", "3")
        listed = await asyncio.to_thread(keys_json, "list")
        assert [k["id"] for k in listed["data"]] == [made["id"]]
        app_ = build_app(make_settings(data_dir, url))
        async with serve(app_) as client:
            me = await client.get("/tollgate/me", headers={"x-api-key": made["key"]})
        assert me.json()["limits"]["rpm"] == 3
    assert not (data_dir / "tollgate.db").exists()
