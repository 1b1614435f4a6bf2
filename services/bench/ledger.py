"""`tollgate bench ledger`: the usage ledger's write throughput, and grouped queries over a
large ledger.

    tollgate bench ledger --url sqlite+aiosqlite:///./ledger-bench.db --rows 1000000
    tollgate bench ledger --url postgresql+asyncpg://postgres@127.0.0.1/test --rows 1000000

It migrates the database, fills `usage_records` through the writer's own insert path (batches
of `--batch` rows) with a realistic spread (90 days, 200 keys in 20 teams, 5 models), runs
ANALYZE, then times the questions the admin API, the CLI and the UI ask (the median of
`--repeat` runs each) and one prune. It prints a Markdown table. `--keep` leaves the rows;
otherwise the table is emptied afterwards.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, text

from gateway.db import open_database, redact_url
from gateway.db.models import UsageRecord
from gateway.usage.queries import insert_rows
from gateway.usage.service import UsageService
from shared.schemas.usage import UsageFilters

DAYS = 90
KEYS = 200
TEAMS = 20
MODELS = ("qwen3-1.7b", "smollm2-135m", "llama-3.1-8b", "mistral-7b", "embed-small")
ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")


def _rows(count: int, start: datetime, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    span_s = DAYS * 86400
    rows = []
    for i in range(count):
        key = rng.randrange(KEYS)
        status = 200 if rng.random() > 0.03 else rng.choice((400, 429, 499, 502, 504))
        rows.append(
            {
                "started_at": start + timedelta(seconds=rng.random() * span_s),
                "request_id": f"{seed:04x}{i:012x}",
                "key_id": f"key_{key:024x}",
                "team": f"team-{key % TEAMS}",
                "model": MODELS[rng.randrange(len(MODELS))],
                "upstream": f"10.0.0.{rng.randrange(4)}:8000",
                "route": ROUTES[rng.randrange(len(ROUTES))],
                "status": status,
                "prompt_tokens": rng.randrange(20, 2000),
                "completion_tokens": rng.randrange(1, 800),
                "cached_tokens": None,
                "latency_ms": rng.random() * 5000,
                "ttft_ms": rng.random() * 300,
                "queued_ms": 0.1,
                "streamed": rng.random() > 0.4,
                "client_disconnected": status == 499,
                "error": None if status == 200 else f"e{status}",
                "usage_estimated": status == 499,
            }
        )
    return rows


async def _timed(action: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


async def run_ledger_bench(
    url: str,
    rows: int,
    *,
    batch: int = 5_000,
    repeat: int = 3,
    keep: bool = False,
    emit: Callable[[str], None] = print,
    on_written: Callable[[int], None] | None = None,
) -> None:
    """Fill, time and (unless `keep`) empty the ledger at `url`; the report goes to `emit`,
    line by line (a Markdown table); `on_written` hears the rows written so far."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    async with open_database(url) as db:
        async with db.sessions() as session, session.begin():
            await session.execute(delete(UsageRecord))
        written, insert_s = 0, 0.0
        while written < rows:
            chunk = _rows(min(batch, rows - written), start, seed=written // batch)
            started = time.perf_counter()  # the database's time only, not making the rows
            async with db.sessions() as session, session.begin():
                await insert_rows(session, chunk)
            insert_s += time.perf_counter() - started
            written += len(chunk)
            if on_written is not None:
                on_written(written)
        async with db.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        service = UsageService(db.sessions)
        key, team = f"key_{7:024x}", "team-3"
        month, week = now - timedelta(days=30), now - timedelta(days=7)
        cases: list[tuple[str, UsageFilters, list[Any]]] = [
            ("whole ledger by day (90 days)", UsageFilters(), ["day"]),
            ("whole ledger by model", UsageFilters(), ["model"]),
            ("last 30 days by key", UsageFilters(since=month), ["key"]),
            ("last 30 days by team and model", UsageFilters(since=month), ["team", "model"]),
            ("one team, 30 days by day", UsageFilters(team=team, since=month), ["day"]),
            ("one key, 7 days by hour (the UI)", UsageFilters(key_id=key, since=week), ["hour"]),
            ("one key, this month's total (the UI)", UsageFilters(key_id=key, since=month), []),
        ]
        emit(f"Database: {redact_url(url)}; {rows:,} rows over {DAYS} days")
        emit(f"Insert: {rows / insert_s:,.0f} rows/s (batches of {batch}, {insert_s:.1f} s)\n")
        emit("| query | groups | rows covered | median ms |")
        emit("| --- | ---: | ---: | ---: |")
        for label, filters, groups in cases:

            def query(f: UsageFilters = filters, g: list[Any] = groups) -> Awaitable[Any]:
                return service.report(f, g)

            ms, report = await _timed(query, repeat)
            emit(f"| {label} | {len(report.data)} | {report.totals.requests:,} | {ms:,.1f} |")
        prune_started = time.perf_counter()
        pruned = await service.prune(DAYS - 1, now=now)
        prune_ms = (time.perf_counter() - prune_started) * 1000
        emit(f"| prune the oldest day | - | {pruned.deleted:,} deleted | {prune_ms:,.1f} |")
        if not keep:
            async with db.sessions() as session, session.begin():
                await session.execute(delete(UsageRecord))
