"""The database for one process's lifetime: migrated, pooled, disposed at the end.

The gateway, the CLI and first-start set-up all open it the same way: `open_database(url)`.
The gateway's composition root builds the `Database` first (`database_at(url)`: SQLAlchemy
connects on first use, so this does no I/O) so that every part can be given its sessions,
and runs `serving(db)` as the first step of its lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db.engine import create_engine, redact_url, session_factory
from gateway.db.errors import DatabaseUnavailable
from gateway.db.migrate import migrate_to_head
from shared.logging import get_logger

_log = get_logger("gateway.db")


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    url: str = ""  # as configured (it may hold a password: log it through redact_url)


def database_at(url: str) -> Database:
    """The engine and sessions for `url`, not connected yet. Raises DatabaseConfigError."""
    engine = create_engine(url)
    return Database(engine=engine, sessions=session_factory(engine), url=url)


@asynccontextmanager
async def serving(db: Database) -> AsyncIterator[None]:
    """Migrate `db` to the newest schema, and dispose of its pool at the end."""
    try:
        await migrate_to_head(db.url)
    except DatabaseUnavailable as exc:
        # One clear line before the server's own "startup failed" traceback.
        _log.error("cannot open the database", url=redact_url(db.url), error=str(exc))
        raise
    _log.info("database ready", url=redact_url(db.url))
    try:
        yield
    finally:
        await db.engine.dispose()


@asynccontextmanager
async def open_database(url: str, *, migrate: bool = True) -> AsyncIterator[Database]:
    if migrate:
        await migrate_to_head(url)
    db = database_at(url)
    try:
        yield db
    finally:
        await db.engine.dispose()
