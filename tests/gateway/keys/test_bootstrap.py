from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.db import open_database
from gateway.keys.admin_token import resolve_admin_token
from gateway.keys.bootstrap import FIRST_KEY_NAME, ensure_first_start_async
from gateway.keys.service import KeyService
from gateway.keys.store import KeyStore
from shared.schemas.keys import KeyCreate
from shared.settings import Settings


@pytest.fixture
def settings(clean_env: Path, database_url: str) -> Settings:
    return Settings(data_dir=clean_env / "data", database_url=database_url)


async def test_first_start_makes_an_admin_token_and_a_working_first_key(
    settings: Settings,
) -> None:
    first = await ensure_first_start_async(settings)
    assert first is not None and first.admin_token and first.first_key
    assert first.admin_token_path == settings.data_dir / "admin-token"
    resolved = resolve_admin_token(settings)
    assert resolved is not None and resolved.get_secret_value() == first.admin_token
    assert first.first_key.name == FIRST_KEY_NAME
    async with open_database(settings.resolved_database_url) as db:
        principal = await KeyStore(db.sessions).authenticate(first.first_key.key)
    assert principal.id == first.first_key.id


async def test_a_second_start_shows_nothing(settings: Settings) -> None:
    assert await ensure_first_start_async(settings) is not None
    assert await ensure_first_start_async(settings) is None


async def test_a_configured_token_is_not_replaced(settings: Settings) -> None:
    configured = settings.model_copy(update={"admin_token": SecretStr("mine")})
    first = await ensure_first_start_async(configured)
    assert first is not None and first.admin_token is None and first.first_key is not None
    assert not (settings.data_dir / "admin-token").exists()


async def test_no_first_key_when_keys_exist(settings: Settings) -> None:
    async with open_database(settings.resolved_database_url) as db:
        await KeyService(db.sessions).create(KeyCreate(name="made-with-the-cli"))
    first = await ensure_first_start_async(settings)
    assert first is not None and first.first_key is None and first.admin_token is not None


async def test_first_start_makes_a_private_ui_token_once_and_shows_it_nowhere(
    settings: Settings,
) -> None:
    first = await ensure_first_start_async(settings)
    path = settings.data_dir / "ui-token"
    token = path.read_text().strip()
    assert token.startswith("tgui-") and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first is not None and token not in repr(first)  # for the UI, not for people
    await ensure_first_start_async(settings)
    assert path.read_text().strip() == token  # a restart keeps the UI and gateway paired


async def test_a_configured_ui_token_is_not_replaced(settings: Settings) -> None:
    await ensure_first_start_async(settings.model_copy(update={"ui_token": SecretStr("mine")}))
    assert not (settings.data_dir / "ui-token").exists()
