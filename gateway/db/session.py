"""The database for one process's lifetime: migrated, pooled, disposed at the end.

The gateway's lifespan, the CLI and first-start set-up all open it the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db.engine import create_engine, session_factory
from gateway.db.migrate import migrate_to_head


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def open_database(url: str, *, migrate: bool = True) -> AsyncIterator[Database]:
    if migrate:
        await migrate_to_head(url)
    engine = create_engine(url)
    try:
        yield Database(engine=engine, sessions=session_factory(engine))
    finally:
        await engine.dispose()
