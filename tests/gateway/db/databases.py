"""Databases for tests: a SQLite file per test, and a fresh schema per test in the real
PostgreSQL (127.0.0.1:5432, database `test`), so parallel runs never see each other's rows.

The fixtures are imported by the conftest of each test folder that needs them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.db import Database, create_engine, open_database

POSTGRES_URL = os.environ.get(
    "TOLLGATE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A URL whose connections work in a new, empty schema (dropped afterwards)."""
    schema = f"tg_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, for_migrations=True)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'tollgate.db'}"


@asynccontextmanager
async def database_for(backend: str, directory: Path) -> AsyncIterator[str]:
    if backend == "postgresql":
        async with postgres_schema() as url:
            yield url
    else:
        yield sqlite_url(directory)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend in turn (not migrated)."""
    async with database_for(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database with its engine and session factory, on each backend."""
    async with open_database(database_url) as database:
        yield database
