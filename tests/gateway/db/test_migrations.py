from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from gateway.db import (
    DatabaseUnavailable,
    MigrationError,
    create_engine,
    migrate_to_head,
)
from gateway.db.migrate import alembic_config, current_revision, head_revision
from gateway.db.models import Base


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_a_new_database_is_migrated_to_head(database_url: str) -> None:
    await migrate_to_head(database_url)
    assert {"api_keys", "alembic_version"} <= await _tables(database_url)
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_migrating_again_changes_nothing(database_url: str) -> None:
    await migrate_to_head(database_url)
    await migrate_to_head(database_url)
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_gateways_starting_together_migrate_once(database_url: str) -> None:
    await asyncio.gather(*(migrate_to_head(database_url) for _ in range(4)))
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_the_models_match_the_migrations(database_url: str) -> None:
    """A model change without a migration (run `python -m gateway.db.revision`) fails here."""
    await migrate_to_head(database_url)

    def _diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_migrations_downgrade_and_upgrade_again(database_url: str) -> None:
    await migrate_to_head(database_url)

    def _downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    engine = create_engine(database_url, for_migrations=True)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade)
    finally:
        await engine.dispose()
    assert "api_keys" not in await _tables(database_url)
    await migrate_to_head(database_url)
    assert "api_keys" in await _tables(database_url)


async def test_a_database_from_a_newer_version_is_explained(database_url: str) -> None:
    await migrate_to_head(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        await engine.dispose()
    with pytest.raises(MigrationError, match="newer Tollgate"):
        await migrate_to_head(database_url)


async def test_an_unreachable_database_is_reported_without_its_password() -> None:
    url = "postgresql+asyncpg://tollgate:hunter2@127.0.0.1:9/tollgate"  # nothing listens on 9
    with pytest.raises(DatabaseUnavailable) as caught:
        await migrate_to_head(url)
    assert "hunter2" not in caught.value.message
    assert "127.0.0.1:9" in caught.value.message
    assert caught.value.status == 503
