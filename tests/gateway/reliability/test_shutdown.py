"""SIGTERM to a real `tollgate gateway` with streams in flight: it stops taking connections,
lets every stream finish whole, writes every ledger row, and exits cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx

from services.fake_engine import FakeEngineConfig, running_fake_engine
from tests.gateway.reliability.support import CHAT, bearer, gateway_process
from tests.gateway.usage.support import ledger_rows

TOKENS = 40  # at 50 ms a token: each answer takes 2 s, well inside the 25 s grace period


async def refuses_new_connections(url: str, timeout_s: float = 10.0) -> bool:
    async with httpx.AsyncClient(timeout=2) as fresh:
        for _ in range(int(timeout_s / 0.05)):
            try:
                await fresh.get(f"{url}/health", headers={"connection": "close"})
            except httpx.TransportError:
                return True
            await asyncio.sleep(0.05)
    return False


async def test_sigterm_lets_streams_in_flight_finish_and_records_them_all(tmp_path: Path) -> None:
    with (
        running_fake_engine(FakeEngineConfig(itl_ms=50, output_tokens=TOKENS)) as engine,
        gateway_process(engine, tmp_path, TOLLGATE_USAGE__FLUSH_INTERVAL_S="600") as gateway,
    ):
        _, key = gateway.create_key()
        started = asyncio.Event()
        first_bytes: list[str] = []
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=gateway.url, headers=bearer(key), timeout=30, limits=limits
        ) as client:

            async def stream() -> tuple[str, list[str]]:
                body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
                events: list[str] = []
                async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            events.append(line[6:])
                            first_bytes.append(response.headers["x-request-id"])
                            if len(set(first_bytes)) == 16:
                                started.set()
                return response.headers["x-request-id"], events

            async def whole() -> tuple[str, list[str]]:
                response = await client.post("/v1/chat/completions", json=CHAT)
                assert response.status_code == 200, response.text
                return response.headers["x-request-id"], [response.text]

            tasks = [asyncio.create_task(stream()) for _ in range(16)]
            tasks += [asyncio.create_task(whole()) for _ in range(8)]
            await asyncio.wait_for(started.wait(), 30)
            gateway.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            assert await refuses_new_connections(gateway.url)
            results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        code = await asyncio.to_thread(gateway.process.wait, 30)  # type: ignore[union-attr]
        assert code in (0, -signal.SIGTERM), gateway.log()[-2000:]
        assert "usage ledger flushed" in gateway.log()

    for _, events in results[:16]:
        assert events[-1] == "[DONE]", events[-3:]
        usage = json.loads(events[-2])["usage"]
        assert usage["completion_tokens"] == TOKENS  # whole, not cut at the signal
    for _, (text,) in results[16:]:
        assert json.loads(text)["usage"]["completion_tokens"] == TOKENS
    rows = await ledger_rows(gateway.database_url)
    assert sorted(row.request_id for row in rows) == sorted(rid for rid, _ in results)
    assert all(row.status == 200 and row.completion_tokens == TOKENS for row in rows)
