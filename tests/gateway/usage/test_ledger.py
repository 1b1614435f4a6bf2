"""Every proxied request leaves exactly one correct ledger row: answered, streamed, abandoned or
refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from gateway.app import create_app
from gateway.db import open_database
from gateway.db.models import UsageRecord
from gateway.wiring import StandIns
from tests.gateway.proxy.support import running_gateway
from tests.gateway.usage.conftest import ledger_settings
from tests.gateway.usage.support import (
    LedgerGateway,
    bearer,
    create_key,
    ledger_rows,
    wait_for_rows,
)
from tests.gateway.usage.test_reports import row as ledger_row

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "Count to ten, please."}]}


def _final_usage(sse: str) -> dict[str, Any]:
    events = [line[5:].strip() for line in sse.splitlines() if line.startswith("data:")]
    usages = [json.loads(e)["usage"] for e in events if e.startswith("{") and '"usage"' in e]
    assert usages, sse
    usage: dict[str, Any] = usages[-1]
    return usage


async def test_answers_streams_and_their_usage_give_one_exact_row_each(
    gateway: LedgerGateway,
) -> None:
    key_id, key = create_key(gateway, team="research")
    headers = bearer(key)
    expected: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30) as client:

        async def plain(i: int) -> None:
            body = {**CHAT, "max_tokens": 3 + i}
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            expected[response.headers["x-request-id"]] = {
                **response.json()["usage"],
                "streamed": False,
            }

        async def streamed(i: int) -> None:
            body = {
                **CHAT,
                "max_tokens": 5 + i,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200
            expected[response.headers["x-request-id"]] = {
                **_final_usage(response.text),
                "streamed": True,
            }

        async def completion(i: int) -> None:
            body = {"model": "other-model", "prompt": "one two three", "max_tokens": 2 + i}
            response = await client.post("/v1/completions", json=body)
            assert response.status_code == 200
            expected[response.headers["x-request-id"]] = {
                **response.json()["usage"],
                "streamed": False,
            }

        await asyncio.gather(
            *(plain(i) for i in range(8)),
            *(streamed(i) for i in range(8)),
            *(completion(i) for i in range(4)),
        )

    rows = await wait_for_rows(gateway.database_url, len(expected))
    assert len(rows) == len(expected) == 20
    for row in rows:
        want = expected[row.request_id]
        assert (row.prompt_tokens, row.completion_tokens) == (
            want["prompt_tokens"],
            want["completion_tokens"],
        )
        assert row.streamed is want["streamed"]
        assert row.usage_estimated is False
        assert (row.key_id, row.team, row.status, row.error) == (key_id, "research", 200, None)
        assert row.client_disconnected is False
        assert row.upstream and row.latency_ms > 0
        assert (row.ttft_ms is not None) is row.streamed
    assert {row.model for row in rows} == {"fake-model", "other-model"}
    assert {row.route for row in rows} == {"/v1/chat/completions", "/v1/completions"}


async def test_a_stream_without_usage_is_counted_from_its_events(gateway: LedgerGateway) -> None:
    _, key = create_key(gateway)
    with httpx.Client(base_url=gateway, headers=bearer(key), timeout=30) as client:
        reference = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 7}).json()
        response = client.post(
            "/v1/chat/completions", json={**CHAT, "max_tokens": 7, "stream": True}
        )
        assert response.status_code == 200
    rows = await wait_for_rows(gateway.database_url, 2)
    stream_row = next(row for row in rows if row.streamed)
    assert stream_row.completion_tokens == reference["usage"]["completion_tokens"] == 7
    # Either the gateway asked the engine for usage (exact), or the row says it estimated.
    assert stream_row.usage_estimated or (
        stream_row.prompt_tokens == reference["usage"]["prompt_tokens"]
    )
    assert stream_row.prompt_tokens and stream_row.prompt_tokens > 0


async def test_a_client_that_leaves_mid_stream_leaves_a_row_with_the_tokens_until_then(
    gateway: LedgerGateway,
) -> None:
    key_id, key = create_key(gateway)
    headers = {**bearer(key), "x-fake-itl-ms": "40"}
    body = {**CHAT, "max_tokens": 200, "stream": True, "stream_options": {"include_usage": True}}
    async with (
        httpx.AsyncClient(base_url=gateway, headers=headers, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        request_id = response.headers["x-request-id"]
        seen = 0
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                seen += 1
            if seen >= 6:
                break  # leaving the block closes the connection mid-answer
    rows = await wait_for_rows(gateway.database_url, 1)
    assert len(rows) == 1
    row = rows[0]
    assert (row.request_id, row.key_id, row.status) == (request_id, key_id, 499)
    assert row.client_disconnected is True and row.streamed is True
    # The fake engine reports no usage before the end, so the row holds an estimate.
    assert row.usage_estimated is True
    assert row.completion_tokens is not None and 5 <= row.completion_tokens < 200
    assert row.prompt_tokens is not None and row.prompt_tokens > 0


async def test_refused_and_failed_requests_leave_rows_with_their_error(
    gateway: LedgerGateway,
) -> None:
    key_id, key = create_key(gateway, models=["other-model"])
    with httpx.Client(base_url=gateway, headers=bearer(key), timeout=30) as client:
        refused = client.post("/v1/chat/completions", json=CHAT)  # model not allowed
        assert refused.status_code == 403
        failed = client.post(
            "/v1/chat/completions",
            json={**CHAT, "model": "other-model"},
            headers={"x-fake-fault": "status-503"},
        )
        assert failed.status_code == 503
        bad = client.post("/v1/chat/completions", content=b"{not json")
        assert bad.status_code == 400
    rows = await wait_for_rows(gateway.database_url, 3)
    by_status = {row.status: row for row in rows}
    assert set(by_status) == {400, 403, 503}
    assert by_status[403].error == "model_not_allowed"
    assert by_status[403].upstream is None and by_status[403].prompt_tokens is None
    assert by_status[503].error == "engine_503" and by_status[503].upstream
    assert by_status[400].error == "invalid_json"
    assert all(row.key_id == key_id and not row.usage_estimated for row in rows)


async def test_requests_without_a_valid_key_leave_no_row(gateway: LedgerGateway) -> None:
    response = httpx.post(
        f"{gateway}/v1/chat/completions", json=CHAT, headers=bearer("tg-" + "x" * 43)
    )
    assert response.status_code == 401
    create_key(gateway)  # something else happens meanwhile; still no row
    await asyncio.sleep(0.3)
    assert await wait_for_rows(gateway.database_url, 1, timeout_s=0.3) == []


async def test_the_retention_setting_prunes_old_rows_while_the_gateway_runs(
    fake_engine: str, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    async with open_database(database_url) as db, db.sessions() as session, session.begin():
        await session.execute(
            insert(UsageRecord),
            [
                ledger_row(now - timedelta(days=3), "key_old", None, "m"),
                ledger_row(now - timedelta(hours=1), "key_new", None, "m"),
            ],
        )
    settings = ledger_settings(fake_engine, database_url, tmp_path, retention_days=2)
    retention = StandIns(first_prune_delay_s=0)  # prune at once, not in 5-60 s
    with running_gateway(create_app(settings, stand_ins=retention)):
        for _ in range(100):
            if [r.key_id for r in await ledger_rows(database_url)] == ["key_new"]:
                break
            await asyncio.sleep(0.05)
    assert [r.key_id for r in await ledger_rows(database_url)] == ["key_new"]


async def test_the_ledger_can_be_switched_off(
    fake_engine: str, database_url: str, tmp_path: Path
) -> None:
    settings = ledger_settings(fake_engine, database_url, tmp_path, enabled=False)
    with running_gateway(create_app(settings)) as url:
        _, key = create_key(url)
        assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=bearer(key)).is_success
        response = httpx.get(f"{url}/tollgate/usage", headers=bearer(key))
        assert response.status_code == 404  # the UI then says usage accounting is off
    assert await ledger_rows(database_url) == []
