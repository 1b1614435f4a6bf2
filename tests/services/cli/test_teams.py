"""`tollgate teams …` and `tollgate keys … --model-limit` as an operator types them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from services.cli import app

runner = CliRunner()


def tollgate(*args: str) -> Result:
    return runner.invoke(app, list(args))


def as_json(*args: str) -> Any:
    result = tollgate(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("command", [[], ["list"], ["show"], ["set"], ["delete"]])
def test_every_teams_command_has_help(command: list[str]) -> None:
    result = tollgate("teams", *command, "--help")
    assert result.exit_code == 0, result.output


def test_set_changes_only_the_limits_named_and_clear_removes_one(data_dir: Path) -> None:
    made = as_json("teams", "set", "ml", "--rpm", "100", "--model-limit", "llama3:8b:tpm=5000")
    assert made["limits"]["rpm"] == 100
    assert made["model_limits"]["llama3:8b"]["tpm"] == 5000  # the last ':' splits
    changed = as_json("teams", "set", "ml", "--tpm", "9000", "--clear", "rpm")
    assert changed["limits"]["rpm"] is None and changed["limits"]["tpm"] == 9000
    assert changed["model_limits"]["llama3:8b"]["tpm"] == 5000
    listed = as_json("teams", "list")
    assert [team["name"] for team in listed["data"]] == ["ml"]
    assert as_json("teams", "delete", "ml")["name"] == "ml"
    gone = tollgate("teams", "show", "ml")
    assert gone.exit_code == 1 and "No team limits" in gone.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rpm", "0"], "--rpm"),
        (["--model-limit", "m:rpx=3"], "unknown limit 'rpx'"),
        (["--model-limit", "m"], "expected MODEL:KIND=N"),
        (["--model-limit", "m:tpm=lots"], "not a whole number"),
        ([], "nothing to set"),
    ],
)
def test_bad_flags_say_what_is_wrong(data_dir: Path, args: list[str], message: str) -> None:
    result = tollgate("teams", "set", "ml", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_keys_take_per_model_limits_from_the_command_line(data_dir: Path) -> None:
    made = as_json(
        "keys", "create", "--name", "a", "--model-limit", "small:rpm=7,max-concurrency=2"
    )
    assert made["model_limits"]["small"]["rpm"] == 7
    assert made["model_limits"]["small"]["max_concurrency"] == 2
    cleared = as_json("keys", "update", made["id"], "--clear", "model-limits")
    assert cleared["model_limits"] is None
