"""SQL for the ledger: grouped summaries, batched inserts and pruning, on SQLite and PostgreSQL.

The one dialect difference is cutting a timestamp to its hour or day: `time_bucket` compiles
to `strftime` on SQLite (which stores naive UTC text) and to `date_trunc` on the UTC wall time
on PostgreSQL (`timestamptz` would otherwise be cut in the session's time zone).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from gateway.db.models import ApiKey, UsageRecord
from gateway.db.types import UTCDateTime
from shared.schemas.usage import COUNTS, GroupBy, UsageFilters, UsageRow

# Deleting in slices keeps each transaction short: SQLite holds its one write lock meanwhile,
# and the gateways' ledger writers must not wait long behind a prune.
PRUNE_SLICE_ROWS = 20_000
# A time range longer than this over the whole ledger is scanned rather than index-searched.
WIDE_RANGE = timedelta(days=14)


class time_bucket(FunctionElement[datetime]):
    """`time_bucket(unit, column)`: the start of the hour or day the UTC timestamp falls in."""

    type = UTCDateTime()
    inherit_cache = True
    name = "time_bucket"


# SQLite stores these timestamps as naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff" (see
# gateway/db/types.py): a prefix of the text is the hour or the day, with no date parsing.
_SQLITE_PREFIX = {"hour": (13, ":00:00"), "day": (10, " 00:00:00")}


def _parts(element: time_bucket) -> tuple[str, ColumnElement[Any]]:
    # The unit is the function's first argument, a bound literal: it is part of the cache
    # key, so an hourly and a daily query never share a compiled statement.
    unit, column = list(element.clauses)
    value = getattr(unit, "value", None)
    if value not in _SQLITE_PREFIX:
        raise ValueError(f"unknown time bucket {value!r}")
    return str(value), column


@compiles(time_bucket, "sqlite")
def _bucket_sqlite(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    unit, column = _parts(element)
    length, rest = _SQLITE_PREFIX[unit]
    return f"substr({compiler.process(column, **kw)}, 1, {length}) || '{rest}'"


@compiles(time_bucket, "postgresql")
def _bucket_postgresql(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    unit, column = _parts(element)
    return f"date_trunc('{unit}', {compiler.process(column, **kw)} AT TIME ZONE 'UTC')"


class scanned(FunctionElement[Any]):
    """A grouping column SQLite must not walk an index for.

    Given `GROUP BY model`, SQLite reads the rows in the order of the (model, started_at)
    index to skip sorting, which costs one table lookup per row: over a whole ledger that is
    three to four times slower than scanning the table and sorting the groups. The unary `+`
    (a no-op on the value) keeps the planner from doing it; PostgreSQL gets the plain column.
    """

    inherit_cache = True
    name = "scanned"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(scanned)
def _scanned_default(element: scanned, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(scanned, "sqlite")
def _scanned_sqlite(element: scanned, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(next(iter(element.clauses)), **kw)}"


def _where(filters: UsageFilters) -> list[ColumnElement[bool]]:
    t = UsageRecord
    conditions: list[ColumnElement[bool]] = []
    if filters.key_id is not None:
        conditions.append(t.key_id == filters.key_id)
    if filters.team is not None:
        conditions.append(t.team == filters.team)
    if filters.model is not None:
        conditions.append(t.model == filters.model)
    started: ColumnElement[datetime] = t.started_at.expression
    if not conditions and _wide(filters):
        # Over weeks of the whole ledger, SQLite is faster scanning the table in order than
        # following the time index with a lookup per row; narrower ranges use the index.
        started = scanned(started)
    if filters.since is not None:
        conditions.append(started >= filters.since)
    if filters.until is not None:
        conditions.append(started < filters.until)
    return conditions


def _wide(filters: UsageFilters) -> bool:
    if filters.since is None:
        return True
    until = filters.until or datetime.now(UTC)
    return until - filters.since > WIDE_RANGE


def _dimension(group: GroupBy) -> ColumnElement[Any]:
    t = UsageRecord
    if group in ("hour", "day"):
        return time_bucket(group, t.started_at).label("start")
    column = {"key": t.key_id, "team": t.team, "model": t.model}[group].expression
    return scanned(column).label({"key": "key_id"}.get(group, group))


def summary_query(filters: UsageFilters, group_by: Sequence[GroupBy]) -> Select[Any]:
    t = UsageRecord
    dimensions = [_dimension(g) for g in group_by]
    is_error = and_(t.status >= 400, t.status != 499)
    zero = 0
    statement = select(
        *dimensions,
        func.count().label("requests"),
        func.coalesce(func.sum(case((is_error, 1), else_=zero)), zero).label("errors"),
        func.coalesce(func.sum(case((t.client_disconnected, 1), else_=zero)), zero).label(
            "disconnected"
        ),
        func.coalesce(func.sum(t.prompt_tokens), zero).label("prompt_tokens"),
        func.coalesce(func.sum(t.completion_tokens), zero).label("completion_tokens"),
        func.coalesce(func.sum(t.cached_tokens), zero).label("cached_tokens"),
        func.coalesce(func.sum(case((t.usage_estimated, 1), else_=zero)), zero).label("estimated"),
        func.sum(t.latency_ms).label("latency_sum"),
        func.sum(t.ttft_ms).label("ttft_sum"),
        func.count(t.ttft_ms).label("ttft_count"),
    ).where(*_where(filters))
    if dimensions:
        # Group and order by position: the bucket expression is not repeated (and PostgreSQL
        # would otherwise see two differently bound copies of it).
        positions: list[ColumnElement[Any]] = [
            literal_column(str(i + 1)) for i in range(len(dimensions))
        ]
        statement = statement.group_by(*positions).order_by(*positions)
    return statement


def _row(mapping: Any, group_by: Sequence[GroupBy]) -> tuple[UsageRow, float, float, int]:
    requests = int(mapping["requests"])
    prompt = int(mapping["prompt_tokens"])
    completion = int(mapping["completion_tokens"])
    latency_sum = float(mapping["latency_sum"] or 0.0)
    ttft_sum = float(mapping["ttft_sum"] or 0.0)
    ttft_count = int(mapping["ttft_count"] or 0)
    row = UsageRow(
        start=mapping["start"] if ("hour" in group_by or "day" in group_by) else None,
        key_id=mapping["key_id"] if "key" in group_by else None,
        team=mapping["team"] if "team" in group_by else None,
        model=mapping["model"] if "model" in group_by else None,
        requests=requests,
        errors=int(mapping["errors"]),
        disconnected=int(mapping["disconnected"]),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(mapping["cached_tokens"]),
        total_tokens=prompt + completion,
        estimated=int(mapping["estimated"]),
        avg_latency_ms=round(latency_sum / requests, 3) if requests else None,
        avg_ttft_ms=round(ttft_sum / ttft_count, 3) if ttft_count else None,
    )
    return row, latency_sum, ttft_sum, ttft_count


async def summarize(
    session: AsyncSession, filters: UsageFilters, group_by: Sequence[GroupBy]
) -> tuple[list[UsageRow], UsageRow]:
    """The grouped rows, and their totals (summed here, not by a second scan)."""
    result = await session.execute(summary_query(filters, group_by))
    rows: list[UsageRow] = []
    total = UsageRow()
    latency, ttft, ttft_n = 0.0, 0.0, 0
    for mapping in result.mappings():
        row, latency_sum, ttft_sum, ttft_count = _row(mapping, group_by)
        if row.requests == 0:
            continue  # an ungrouped query over no rows still answers one row of zeros
        rows.append(row)
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(row, name))
        latency, ttft, ttft_n = latency + latency_sum, ttft + ttft_sum, ttft_n + ttft_count
    total.avg_latency_ms = round(latency / total.requests, 3) if total.requests else None
    total.avg_ttft_ms = round(ttft / ttft_n, 3) if ttft_n else None
    if "key" in group_by and rows:
        names = await key_names(session, {r.key_id for r in rows if r.key_id})
        for row in rows:
            row.key_name = names.get(row.key_id or "")
    return rows, total


async def key_names(session: AsyncSession, key_ids: set[str]) -> dict[str, str]:
    if not key_ids:
        return {}
    result = await session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(key_ids)))
    return {key_id: name for key_id, name in result.all()}


async def insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT (SQLAlchemy batches the VALUES) inside the caller's transaction.

    Rows already in (same `row_uid`: a retried batch whose first commit did land) are skipped.
    """
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql_insert(UsageRecord).on_conflict_do_nothing(
            index_elements=["row_uid"]
        )
    elif dialect == "sqlite":
        statement = sqlite_insert(UsageRecord).on_conflict_do_nothing(index_elements=["row_uid"])
    else:
        statement = insert(UsageRecord)
    await session.execute(statement, list(rows))


async def prune_slice(session: AsyncSession, older_than: datetime) -> int:
    """Delete up to PRUNE_SLICE_ROWS rows that started before `older_than`; the count."""
    t = UsageRecord
    oldest = select(t.id).where(t.started_at < older_than).limit(PRUNE_SLICE_ROWS).scalar_subquery()
    result = await session.execute(delete(t).where(t.id.in_(oldest)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
