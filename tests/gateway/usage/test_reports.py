"""Usage reports: filters and groupings give the same answers on SQLite and PostgreSQL; pruning
removes exactly the old rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from gateway.db import Database
from gateway.db.models import UsageRecord
from gateway.usage.export import to_csv
from gateway.usage.service import UsageService
from shared.schemas.usage import UsageFilters

T0 = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


def row(at: datetime, key: str, team: str | None, model: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "started_at": at,
        "request_id": f"r-{at.timestamp()}-{key}-{model}",
        "key_id": key,
        "team": team,
        "model": model,
        "upstream": "127.0.0.1:8000",
        "route": "/v1/chat/completions",
        "status": 200,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": None,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "queued_ms": None,
        "streamed": False,
        "client_disconnected": False,
        "error": None,
        "usage_estimated": False,
    }
    values.update(changes)
    return values


ROWS = [
    # Alice (team a) on model m1: three requests in the 09:00 hour, one at 10:00.
    row(T0, "key_alice", "a", "m1"),
    row(T0 + timedelta(minutes=10), "key_alice", "a", "m1", prompt_tokens=20),
    row(T0 + timedelta(minutes=20), "key_alice", "a", "m1", status=500, error="engine_500"),
    row(T0 + timedelta(hours=1), "key_alice", "a", "m2", streamed=True, ttft_ms=40.0),
    # Bob (team b) on m2: the next day; one abandoned stream with estimated usage.
    row(T0 + timedelta(days=1), "key_bob", "b", "m2", latency_ms=300.0),
    row(
        T0 + timedelta(days=1, minutes=1),
        "key_bob",
        "b",
        "m2",
        status=499,
        client_disconnected=True,
        usage_estimated=True,
        completion_tokens=3,
        streamed=True,
        ttft_ms=60.0,
    ),
    # Carol has no team; a request refused before the engine (no tokens).
    row(
        T0 + timedelta(days=2),
        "key_carol",
        None,
        "m1",
        status=429,
        error="rpm",
        prompt_tokens=None,
        completion_tokens=None,
        upstream=None,
    ),
]


async def seeded(db: Database) -> UsageService:
    async with db.sessions() as session, session.begin():
        await session.execute(insert(UsageRecord), ROWS)
    return UsageService(db.sessions)


async def test_totals_without_grouping_count_every_row(db: Database) -> None:
    report = await (await seeded(db)).report(UsageFilters(), [])
    assert len(report.data) == 1
    totals = report.totals
    assert (totals.requests, totals.errors, totals.disconnected, totals.estimated) == (7, 2, 1, 1)
    assert (totals.prompt_tokens, totals.completion_tokens) == (70, 28)
    assert totals.total_tokens == 98
    assert totals.avg_latency_ms == round((100 * 5 + 300 + 100) / 7, 3)
    assert totals.avg_ttft_ms == 50.0


async def test_grouping_by_hour_cuts_at_the_utc_hour(db: Database) -> None:
    report = await (await seeded(db)).report(UsageFilters(key_id="key_alice"), ["hour"])
    assert [(r.start, r.requests, r.prompt_tokens) for r in report.data] == [
        (datetime(2026, 11, 20, 9, tzinfo=UTC), 3, 40),
        (datetime(2026, 11, 20, 10, tzinfo=UTC), 1, 10),
    ]
    assert report.data[0].errors == 1


async def test_grouping_by_day_and_model_together(db: Database) -> None:
    report = await (await seeded(db)).report(UsageFilters(), ["day", "model"])
    got = [(r.start.day if r.start else None, r.model, r.requests) for r in report.data]
    assert got == [(20, "m1", 3), (20, "m2", 1), (21, "m2", 2), (22, "m1", 1)]
    assert report.totals.requests == 7


async def test_grouping_by_key_names_the_keys_and_by_team_keeps_keys_without_one(
    db: Database,
) -> None:
    service = await seeded(db)
    by_key = await service.report(UsageFilters(), ["key"])
    assert [(r.key_id, r.requests) for r in by_key.data] == [
        ("key_alice", 4),
        ("key_bob", 2),
        ("key_carol", 1),
    ]
    assert all(r.key_name is None for r in by_key.data)  # these ids are not in api_keys
    by_team = await service.report(UsageFilters(), ["team"])
    assert sorted((r.team or "", r.requests) for r in by_team.data) == [
        ("", 1),
        ("a", 4),
        ("b", 2),
    ]


async def test_filters_combine_and_until_is_exclusive(db: Database) -> None:
    service = await seeded(db)
    since, until = T0 + timedelta(minutes=10), T0 + timedelta(hours=1)
    report = await service.report(UsageFilters(since=since, until=until), [])
    assert report.totals.requests == 2
    report = await service.report(UsageFilters(team="b", model="m2"), ["day"])
    assert [(r.requests, r.completion_tokens) for r in report.data] == [(2, 8)]
    # A wide range over the whole ledger takes the table-scan path; same answers.
    wide = await service.report(UsageFilters(since=T0 - timedelta(days=30)), ["day"])
    assert wide.totals.requests == 7
    wide = await service.report(
        UsageFilters(since=T0 - timedelta(days=30), until=T0 + timedelta(days=1)), []
    )
    assert wide.totals.requests == 4
    empty = await service.report(UsageFilters(model="nothing"), ["day"])
    assert empty.data == [] and empty.totals.requests == 0


async def test_a_key_report_has_the_ui_shape(db: Database) -> None:
    from shared.schemas.keys import KeyLimitsInfo

    service = await seeded(db)
    report = await service.key_report(
        "key_alice", KeyLimitsInfo(rpm=5), bucket="day", since=T0 - timedelta(days=1), until=None
    )
    body = report.model_dump(mode="json")
    assert body["key_id"] == "key_alice" and body["bucket"] == "day"
    assert body["buckets"] == [
        {
            "start": "2026-11-20T00:00:00Z",
            "requests": 4,
            "prompt_tokens": 50,
            "completion_tokens": 20,
            "errors": 1,
        }
    ]
    assert body["totals"] == {"requests": 4, "prompt_tokens": 50, "completion_tokens": 20}
    assert body["limits"]["rpm"] == 5


async def test_csv_export_has_a_header_the_rows_and_the_totals(db: Database) -> None:
    report = await (await seeded(db)).report(UsageFilters(), ["day", "key"])
    lines = to_csv(report).splitlines()
    assert lines[0].startswith("start,key_id,key_name,requests,errors,")
    assert lines[1].startswith("2026-11-20T00:00:00+00:00,key_alice,,4,1,")
    assert lines[-1].startswith("total,,,7,2,")
    assert len(lines) == 1 + 3 + 1


async def test_pruning_deletes_only_rows_older_than_the_cutoff(db: Database) -> None:
    service = await seeded(db)
    now = T0 + timedelta(days=3)
    result = await service.prune(2, now=now)  # before Nov 21 09:15: Alice's four rows
    assert result.deleted == 4
    assert result.older_than == T0 + timedelta(days=1)
    left = await service.report(UsageFilters(), ["key"])
    assert [r.key_id for r in left.data] == ["key_bob", "key_carol"]
    assert (await service.prune(2, now=now)).deleted == 0


async def test_a_batch_written_twice_is_stored_once(db: Database) -> None:
    # The writer retries a batch whose commit may have landed before the connection dropped.
    from gateway.usage.queries import insert_rows

    batch = [row(T0, "key_alice", "a", "m1", row_uid=f"{n:032x}") for n in range(3)]
    for _ in range(2):
        async with db.sessions() as session, session.begin():
            await insert_rows(session, batch)
    report = await UsageService(db.sessions).report(UsageFilters(), [])
    assert report.totals.requests == 3
