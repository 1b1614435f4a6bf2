"""The async engine and session factory, for SQLite (one machine) or PostgreSQL (a team).

Both backends run the same models and migrations; what differs is connection set-up, kept here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

# The async driver each backend uses; a URL without a driver (`postgresql://…`) gets it.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# A writer waits this long for another process's write lock instead of failing at once.
_SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_CONNECT_TIMEOUT_S = 10.0


class DatabaseConfigError(ValueError):
    """`TOLLGATE_DATABASE_URL` cannot be used (bad syntax, unsupported backend or driver)."""


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def parse_url(url: str | URL) -> URL:
    """Parse and normalise a database URL to its async driver, or explain what is wrong."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(
            "TOLLGATE_DATABASE_URL is not a database URL; expected e.g. "
            "sqlite+aiosqlite:///path/tollgate.db or postgresql+asyncpg://user@host/db"
        ) from exc
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    wanted = _ASYNC_DRIVERS.get(backend)
    if wanted is None:
        raise DatabaseConfigError(
            f"database backend {backend!r} is not supported; use SQLite or PostgreSQL"
        )
    if "+" not in parsed.drivername:
        return parsed.set(drivername=f"{backend}+{wanted}")
    if driver != wanted:
        raise DatabaseConfigError(
            f"{backend} needs the async driver {wanted!r} (e.g. {backend}+{wanted}://…), "
            f"not {driver!r}"
        )
    return parsed


def _libpq_options(url: URL) -> tuple[URL, dict[str, str]]:
    """Move libpq's `?options=-c name=value …` into asyncpg's `server_settings`.

    asyncpg does not take `options`, but it is how PostgreSQL users set e.g. a schema
    (`?options=-csearch_path%3Dtollgate`); tests use it to give each test its own schema.
    """
    raw = url.query.get("options")
    if raw is None:
        return url, {}
    settings: dict[str, str] = {}
    values = raw if isinstance(raw, tuple) else (raw,)
    for token in " ".join(values).replace("-c ", "-c").split():
        item = token.removeprefix("-c").removeprefix("--")
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise DatabaseConfigError(
                "the database URL's `options` must be `-c name=value` items, "
                "e.g. ?options=-csearch_path%3Dtollgate"
            )
        settings[name.replace("-", "_")] = value
    return url.difference_update_query(["options"]), settings


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def create_engine(url: str | URL, *, for_migrations: bool = False) -> AsyncEngine:
    """An AsyncEngine for `url`; the SQLite file's directory is created if missing.

    `for_migrations` gives a short-lived engine whose transactions take the write lock up
    front (SQLite `BEGIN IMMEDIATE`), so gateways starting at once migrate one after another.
    """
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    if for_migrations:
        kwargs["poolclass"] = NullPool
    if parsed.get_backend_name() == "sqlite":
        if _is_memory(parsed):
            # Every new connection to :memory: is a new, empty database: share one.
            kwargs["poolclass"] = StaticPool
        else:
            Path(parsed.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        parsed, server_settings = _libpq_options(parsed)
        # A pooled connection may have died with a database restart: test it before use.
        kwargs["pool_pre_ping"] = True
        # Give up connecting after a few seconds (asyncpg waits 60): an unreachable database
        # must become a quick 503, not requests hanging for a minute.
        connect_args: dict[str, Any] = {"timeout": _PG_CONNECT_TIMEOUT_S}
        if server_settings:
            connect_args["server_settings"] = server_settings
        kwargs["connect_args"] = connect_args
    engine = _create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, memory=_is_memory(parsed), immediate=for_migrations)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, memory: bool, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if immediate:
            # Let SQLAlchemy, not the driver, decide when a transaction begins (see below).
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            # WAL: readers (the gateway) never block on a writer (the CLI), and vice versa.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if immediate:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            # Take the write lock first: a second migrator waits here, then finds the
            # schema at head, instead of racing to create the same tables.
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: services return them to HTTP handlers and the CLI.
    return async_sessionmaker(engine, expire_on_commit=False)
