from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.db import Database, DatabaseConfigError, create_engine, redact_url
from gateway.db.engine import parse_url
from gateway.db.models import ApiKey
from tests.gateway.db.databases import postgres_schema


def test_a_url_without_driver_gets_the_async_one() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert parse_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert parse_url("postgresql+asyncpg://u@h/db").drivername == "postgresql+asyncpg"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+aiomysql://u@h/db", "not supported"),
        ("postgresql+psycopg2://u@h/db", "needs the async driver 'asyncpg'"),
        ("not a url", "not a database URL"),
        ("postgresql://u@h/db?options=search_path", "-c name=value"),
    ],
)
def test_unusable_database_urls_are_explained(url: str, says: str) -> None:
    with pytest.raises(DatabaseConfigError, match=says):
        create_engine(url)


def test_redacted_urls_hide_the_password() -> None:
    shown = redact_url("postgresql+asyncpg://tollgate:hunter2@db:5432/tollgate")
    assert "hunter2" not in shown
    assert "tollgate@db:5432" in shown or "***@db" in shown


async def test_sqlite_creates_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "data" / "tollgate.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
        assert path.exists()
        assert mode == "wal"
    finally:
        await engine.dispose()


async def test_in_memory_sqlite_keeps_one_database_across_connections() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_postgres_url_options_select_the_schema() -> None:
    async with postgres_schema() as url:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                schema = (await connection.execute(text("SELECT current_schema()"))).scalar()
            assert schema is not None and schema.startswith("tg_test_")
        finally:
            await engine.dispose()


async def test_timestamps_come_back_as_utc_on_every_backend(db: Database) -> None:
    created = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    async with db.sessions() as session, session.begin():
        session.add(
            ApiKey(
                id="key_" + "0" * 24,
                key_hash="a" * 64,
                prefix="tg-abcdefgh",
                name="t",
                created_at=created,
                updated_at=created,
            )
        )
    async with db.sessions() as session:
        row = await session.get(ApiKey, "key_" + "0" * 24)
    assert row is not None
    assert row.created_at == created
    assert row.created_at.tzinfo == UTC
    assert row.tier == "standard" and row.revoked is False


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.sessions() as session, session.begin():
            session.add(
                ApiKey(
                    id="key_" + "1" * 24,
                    key_hash="b" * 64,
                    prefix="tg-x",
                    name="t",
                    created_at=datetime(2030, 1, 1),
                    updated_at=datetime(2030, 1, 1),
                )
            )


async def test_the_database_refuses_an_unknown_tier(db: Database) -> None:
    now = datetime.now(UTC)
    with pytest.raises(Exception, match="(?i)check"):
        async with db.sessions() as session, session.begin():
            session.add(
                ApiKey(
                    id="key_" + "2" * 24,
                    key_hash="c" * 64,
                    prefix="tg-x",
                    name="t",
                    tier="gold",
                    created_at=now,
                    updated_at=now,
                )
            )
