"""The UI token is resolved like the admin token: the setting, else the generated file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.secret_files import ADMIN_TOKEN, UI_TOKEN, SecretFileError
from shared.settings import Settings


def test_the_ui_token_comes_from_the_setting_else_the_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=clean_env)
    assert UI_TOKEN.resolve(settings) is None  # nothing anywhere: no UI is trusted
    generated = UI_TOKEN.generate(settings)
    assert generated is not None and generated.startswith("tgui-")
    resolved = UI_TOKEN.resolve(settings)
    assert resolved is not None and resolved.get_secret_value() == generated
    monkeypatch.setenv("TOLLGATE_UI_TOKEN", "from-env")
    from_env = UI_TOKEN.resolve(Settings(data_dir=clean_env))
    assert from_env is not None and from_env.get_secret_value() == "from-env"
    assert "from-env" not in repr(Settings())  # a SecretStr: never printed with the settings


def test_the_ui_and_admin_tokens_are_different_secrets(clean_env: Path) -> None:
    settings = Settings(data_dir=clean_env, admin_token=SecretStr("admin-only"))
    assert UI_TOKEN.ensure(settings) is not None and ADMIN_TOKEN.ensure(settings) is None
    assert UI_TOKEN.ensure(settings) is None  # once
    resolved = UI_TOKEN.resolve(settings)
    assert resolved is not None and resolved.get_secret_value() != "admin-only"
    assert not ADMIN_TOKEN.path(settings).exists()


def test_an_unreadable_ui_token_file_is_explained(clean_env: Path) -> None:
    settings = Settings(data_dir=clean_env)
    UI_TOKEN.path(settings).mkdir(parents=True)
    with pytest.raises(SecretFileError, match="cannot read the UI token file"):
        UI_TOKEN.resolve(settings)
