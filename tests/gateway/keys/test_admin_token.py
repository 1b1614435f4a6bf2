from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.keys.admin_token import (
    AdminTokenError,
    admin_token_path,
    generate_admin_token,
    resolve_admin_token,
)
from shared.settings import Settings


def _settings(tmp_path: Path, token: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path / "data", admin_token=SecretStr(token) if token else None)


def test_no_token_anywhere_means_none(clean_env: Path) -> None:
    assert resolve_admin_token(_settings(clean_env)) is None


def test_a_generated_token_is_private_and_made_only_once(clean_env: Path) -> None:
    settings = _settings(clean_env)
    token = generate_admin_token(settings)
    assert token is not None and token.startswith("tgadmin-") and len(token) > 40
    path = admin_token_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert generate_admin_token(settings) is None  # never shown twice
    resolved = resolve_admin_token(settings)
    assert resolved is not None and resolved.get_secret_value() == token


def test_the_environment_wins_over_the_file(clean_env: Path) -> None:
    generate_admin_token(_settings(clean_env))
    resolved = resolve_admin_token(_settings(clean_env, token="from-env"))
    assert resolved is not None and resolved.get_secret_value() == "from-env"


def test_an_empty_variable_falls_back_to_the_file(clean_env: Path) -> None:
    token = generate_admin_token(_settings(clean_env))
    resolved = resolve_admin_token(
        Settings(data_dir=clean_env / "data", admin_token=SecretStr(" "))
    )
    assert resolved is not None and resolved.get_secret_value() == token


def test_the_gateway_reads_the_token_from_the_environment_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_ADMIN_TOKEN", "env-token")
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(clean_env / "data"))
    resolved = resolve_admin_token(Settings())
    assert resolved is not None and resolved.get_secret_value() == "env-token"


def test_an_unreadable_token_file_is_explained(clean_env: Path) -> None:
    settings = _settings(clean_env)
    admin_token_path(settings).mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(AdminTokenError, match="cannot read the admin token file"):
        resolve_admin_token(settings)
