"""A real `tollgate gateway` process stopped with SIGTERM under load loses no ledger row."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.processes import ManagedProcess
from tests.gateway.usage.support import ADMIN_TOKEN, bearer, create_key, ledger_rows
from tests.processes import gateway_process, tollgate_env

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "stream please"}]}


@pytest.fixture
def engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(itl_ms=15, capacity=512)) as url:
        yield url


@contextlib.contextmanager
def shutdown_gateway(
    engine: str, database_url: str, data_dir: Path
) -> Iterator[tuple[str, ManagedProcess]]:
    env = tollgate_env(
        data_dir,
        TOLLGATE_DATABASE_URL=database_url,
        TOLLGATE_ADMIN_TOKEN=ADMIN_TOKEN,
        # Rows stay buffered until shutdown: the test proves the SIGTERM flush writes them.
        TOLLGATE_USAGE__FLUSH_INTERVAL_S="600",
        TOLLGATE_USAGE__BATCH_SIZE="10000",
    )
    with gateway_process(engine, env, grace_s=5, keep_lines=60, interval_s=0.05) as gateway:
        yield gateway.url, gateway.process


async def test_sigterm_during_load_loses_no_ledger_row(
    engine: RunningFakeEngine, database_url: str, tmp_path: Path
) -> None:
    with shutdown_gateway(engine, database_url, tmp_path) as (url, process):
        _, key = create_key(url)
        answered: list[str] = []
        stop = asyncio.Event()

        async def client_loop(client: httpx.AsyncClient, stream: bool) -> None:
            body = {**CHAT, "max_tokens": 12, "stream": stream}
            while not stop.is_set():
                try:
                    response = await client.post("/v1/chat/completions", json=body)
                except httpx.HTTPError:
                    return  # the gateway stopped taking requests
                answered.append(response.headers["x-request-id"])
                if response.status_code != 200:
                    return

        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=url, headers=bearer(key), timeout=30, limits=limits
        ) as client:
            loops = [asyncio.create_task(client_loop(client, i % 2 == 0)) for i in range(24)]
            while len(answered) < 60:  # under way: requests in flight at every moment
                await asyncio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*loops), timeout=30)
        # uvicorn re-raises the signal once it has shut down cleanly: exit "by SIGTERM".
        code = await asyncio.to_thread(process.wait, 30)
        assert code in (0, -signal.SIGTERM), process.last_lines()
        assert "usage ledger flushed" in process.last_lines(200)

    rows = await ledger_rows(database_url)
    ids = [row.request_id for row in rows]
    assert len(ids) == len(set(ids)), "a request was recorded twice"
    missing = set(answered) - set(ids)
    assert not missing, f"{len(missing)} answered requests have no ledger row"
    assert len(answered) >= 60
    streamed = [row for row in rows if row.streamed and row.status == 200]
    assert streamed and all(row.completion_tokens == 12 for row in streamed)
