"""Bring a database to the newest schema: `alembic upgrade head`, run programmatically.

The gateway runs it at start and the CLI before touching keys, so there is no separate
migration step to forget. Concurrent starts are safe: PostgreSQL serialises migrators on an
advisory lock, SQLite on its write lock, migrations within one process take turns; whoever comes
second finds the schema at head.
"""

from __future__ import annotations

import asyncio
import weakref

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.engine import create_engine, redact_url
from gateway.db.errors import DatabaseUnavailable, database_errors

SCRIPT_LOCATION = "gateway.db:migrations"
# pg_advisory_xact_lock key: "tollgate" as 8 ASCII bytes, so it cannot clash by accident.
_PG_LOCK_KEY = int.from_bytes(b"tollgate", "big")


class MigrationError(DatabaseUnavailable):
    """The schema cannot be brought to this version's head (e.g. the database is newer)."""

    default_code = "database_migration_failed"


def alembic_config(url: str | URL | None = None) -> Config:
    """Alembic's configuration without an ini file: scripts come from the installed package."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # New revision files are named by their id alone ("0003_add_teams.py").
    config.set_main_option("file_template", "%%(rev)s")
    if url is not None:
        # ConfigParser interpolates `%`; URL-encoded passwords contain it.
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its revisions
        raise RuntimeError("the migrations package has no revisions")
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision a database is at; None for an empty database."""

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_read)


# Alembic keeps its running migration in module globals (`op`, `context`): two migrations in one
# process at once would trample each other, so they take turns (one lock per event loop).
_IN_PROCESS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def migrate_to_head(url: str | URL) -> None:
    """Upgrade the database at `url` to the newest revision (a no-op when it is there)."""
    lock = _IN_PROCESS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        await _migrate(url)


async def _migrate(url: str | URL) -> None:
    engine = create_engine(url, for_migrations=True)
    where = f"the database at {redact_url(url)}"
    try:
        with database_errors(where):
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                    )
                await connection.run_sync(_upgrade, where)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, where: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        # Typically "Can't locate revision …": a newer Tollgate migrated this database.
        raise MigrationError(
            f"cannot migrate {where}: {exc}. If a newer Tollgate version created this "
            "database, upgrade this installation too."
        ) from exc
