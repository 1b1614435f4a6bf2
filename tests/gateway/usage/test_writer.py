"""The ledger writer: batches off the request path, retries while the database is down, a bounded
buffer whose overflow is counted and logged, and a flush at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import types
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

from gateway.db import Database
from gateway.db.models import UsageRecord
from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import Usage
from gateway.proxy.hooks import ProxyOutcome
from gateway.usage.writer import LedgerWriter
from shared.settings import UsageSettings
from tests.gateway.proxy.support import LogCapture

PRINCIPAL = KeyPrincipal(id="key_0123456789abcdef01234567", name="w", prefix="tg-w", team="t")


def outcome(i: int, **changes: Any) -> ProxyOutcome:
    fields: dict[str, Any] = {
        "request_id": f"req-{i}",
        "principal": PRINCIPAL,
        "route": "/v1/chat/completions",
        "model": "fake-model",
        "upstream": "127.0.0.1:8000",
        "status": 200,
        "usage": Usage(prompt_tokens=10, completion_tokens=i),
        "started_at": datetime.now(UTC),
        "latency_ms": 12.5,
        "ttfb_ms": 3.0,
        "stream": False,
        "client_disconnected": False,
        "error": None,
    }
    fields.update(changes)
    return ProxyOutcome(**fields)


class RecordingSink:
    """A `LedgerSink` that remembers what it was told."""

    def __init__(self) -> None:
        self.rows_written = 0
        self.rows_dropped: dict[str, int] = {}
        self.failures = 0

    def written(self, rows: int) -> None:
        self.rows_written += rows

    def dropped(self, rows: int, reason: str) -> None:
        self.rows_dropped[reason] = self.rows_dropped.get(reason, 0) + rows

    def write_failed(self) -> None:
        self.failures += 1

    def buffered(self, rows: int) -> None:
        pass


class FlakyDatabase:
    """A session factory whose transactions fail while `down` is set; batches are recorded."""

    def __init__(self) -> None:
        self.down = False
        self.hang = False
        self.refused: set[str] = set()  # request ids whose rows the database rejects
        self.batches: list[int] = []

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        yield self

    def __call__(self) -> Any:
        return self._session()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        yield

    def get_bind(self) -> Any:
        return types.SimpleNamespace(dialect=types.SimpleNamespace(name="sqlite"))

    async def execute(self, _statement: Any, rows: list[dict[str, Any]]) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.down:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        if any(row["request_id"] in self.refused for row in rows):
            raise DataError("INSERT", {}, Exception("value out of range"))
        self.batches.append(len(rows))


def settings(**changes: Any) -> UsageSettings:
    return UsageSettings(**{"flush_interval_s": 0.02, "retry_max_s": 0.05, **changes})


def events(logs: LogCapture) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.lines]


async def test_rows_reach_the_database_in_batches(db: Database) -> None:
    writer = LedgerWriter(settings(batch_size=10))
    for i in range(5):  # recorded before start: kept, then written
        writer.record(outcome(i))
    writer.start(db.sessions)
    for i in range(5, 25):
        writer.record(outcome(i))
    assert await writer.flush(5.0)
    assert await count_rows_of(db) == 25
    await writer.aclose()
    assert writer.written_total == 25 and writer.dropped_total == 0


async def count_rows_of(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(select(func.count(UsageRecord.id)))).scalar_one())


async def test_batches_are_at_most_batch_size_and_written_without_waiting_for_the_interval() -> (
    None
):
    database = FlakyDatabase()
    writer = LedgerWriter(settings(batch_size=7, flush_interval_s=60))
    writer.start(database)  # type: ignore[arg-type]
    for i in range(21):
        writer.record(outcome(i))
    for _ in range(100):
        if sum(database.batches) == 21:
            break
        await asyncio.sleep(0.01)
    assert database.batches == [7, 7, 7]
    await writer.aclose()


async def test_rows_wait_while_the_database_is_down_and_go_in_when_it_is_back(
    logs: LogCapture,
) -> None:
    database, sink = FlakyDatabase(), RecordingSink()
    database.down = True
    writer = LedgerWriter(settings(batch_size=5), sink=sink)
    writer.start(database)  # type: ignore[arg-type]
    for i in range(12):
        writer.record(outcome(i))
    await asyncio.sleep(0.3)
    assert database.batches == [] and writer.pending == 12 and sink.failures >= 2
    database.down = False
    for _ in range(200):
        if sum(database.batches) == 12:
            break
        await asyncio.sleep(0.01)
    assert sum(database.batches) == 12 and writer.dropped_total == 0 and sink.rows_written == 12
    await writer.aclose()
    messages = [e["event"] for e in events(logs)]
    assert "usage ledger write failed; rows kept for retry" in messages
    assert "usage ledger writes recovered" in messages


async def test_a_full_buffer_drops_rows_loudly_never_silently(logs: LogCapture) -> None:
    database, sink = FlakyDatabase(), RecordingSink()
    database.down = True
    writer = LedgerWriter(settings(batch_size=10, max_buffer_rows=100), sink=sink)
    writer.start(database)  # type: ignore[arg-type]
    for i in range(150):
        writer.record(outcome(i))
    assert writer.pending == 100
    assert writer.dropped_total == 50 and sink.rows_dropped == {"buffer_full": 50}
    dropped_lines = [e for e in events(logs) if e["event"] == "usage ledger rows dropped"]
    assert dropped_lines and dropped_lines[0]["level"] == "error"
    assert dropped_lines[0]["reason"] == "buffer_full"
    database.down = False
    assert await writer.flush(5.0)
    assert sum(database.batches) == 100
    await writer.aclose()


async def test_shutdown_writes_everything_still_buffered(db: Database) -> None:
    writer = LedgerWriter(settings(batch_size=50, flush_interval_s=60))
    writer.start(db.sessions)
    for i in range(120):
        writer.record(outcome(i))
    await writer.aclose()
    assert await count_rows_of(db) == 120
    writer.record(outcome(999))  # after shutdown: nothing could write it, so it is counted
    assert writer.dropped_total == 1


async def test_rows_that_cannot_be_written_by_the_shutdown_deadline_are_counted_and_logged(
    logs: LogCapture,
) -> None:
    database, sink = FlakyDatabase(), RecordingSink()
    database.hang = True  # a database that never answers must not hold shutdown
    writer = LedgerWriter(settings(shutdown_timeout_s=0.3), sink=sink)
    writer.start(database)  # type: ignore[arg-type]
    for i in range(30):
        writer.record(outcome(i))
    await asyncio.wait_for(writer.aclose(), timeout=5)
    assert sink.rows_dropped == {"shutdown": 30} and writer.dropped_total == 30
    lost = [e for e in events(logs) if e["event"].startswith("usage ledger rows lost")]
    assert lost and lost[0]["rows"] == 30


async def test_an_outcome_that_cannot_become_a_row_is_counted_not_raised() -> None:
    sink = RecordingSink()
    writer = LedgerWriter(settings(), sink=sink)
    broken = outcome(2)
    object.__setattr__(broken, "principal", None)
    writer.record(broken)
    assert sink.rows_dropped == {"invalid": 1}


async def test_a_row_the_database_refuses_costs_only_itself(logs: LogCapture) -> None:
    database, sink = FlakyDatabase(), RecordingSink()
    database.refused = {"req-13"}
    writer = LedgerWriter(settings(batch_size=20), sink=sink)
    writer.start(database)  # type: ignore[arg-type]
    for i in range(40):
        writer.record(outcome(i))
    assert await writer.flush(5.0)
    assert sum(database.batches) == 39 and sink.rows_written == 39
    assert sink.rows_dropped == {"rejected": 1} and writer.pending == 0
    rejected = [
        e for e in events(logs) if e["event"] == "usage ledger row rejected by the database"
    ]
    assert [e["request_id"] for e in rejected] == ["req-13"]
    await writer.aclose()
