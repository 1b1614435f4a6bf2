"""Persistence: the async engine and sessions, the ORM models, and the Alembic migrations.

- `create_engine(url)`: an AsyncEngine for SQLite (default) or PostgreSQL (asyncpg);
- `session_factory(engine)`: the async_sessionmaker every repository uses;
- `migrate_to_head(url)`: `alembic upgrade head`, run at gateway start and by the CLI;
- `open_database(url)`: all three for one process's lifetime (migrate, pool, dispose).
"""

from gateway.db.engine import DatabaseConfigError, create_engine, redact_url, session_factory
from gateway.db.errors import DatabaseUnavailable, database_errors
from gateway.db.migrate import MigrationError, migrate_to_head
from gateway.db.session import Database, open_database

__all__ = [
    "Database",
    "DatabaseConfigError",
    "DatabaseUnavailable",
    "MigrationError",
    "create_engine",
    "database_errors",
    "migrate_to_head",
    "open_database",
    "redact_url",
    "session_factory",
]
