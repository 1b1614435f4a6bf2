"""Database faults, turned into one error every caller can show plainly (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from gateway.errors import GatewayError


class DatabaseUnavailable(GatewayError):
    """The database cannot be reached or answered with a server fault (HTTP 503)."""

    status = 503
    type = "server_error"
    default_code = "database_unavailable"


@contextmanager
def database_errors(what: str = "the database") -> Iterator[None]:
    """Re-raise connection and server faults as `DatabaseUnavailable`.

    Integrity and programming errors pass through: they are bugs to see, not outages.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(f"{what} is unavailable: {_first_line(exc)}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(f"{what} is unavailable: {_first_line(exc)}") from exc
        raise
    except (OSError, TimeoutError) as exc:  # asyncpg raises these before any DBAPI wrapping
        raise DatabaseUnavailable(f"{what} is unavailable: {exc}") from exc


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
