"""With two worker processes, every scrape of `/metrics` counts the traffic of both, and the
ledger has one row per request."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from services.fake_engine import FakeEngineConfig, running_fake_engine
from tests.gateway.usage.support import ADMIN_TOKEN, bearer, count_rows, create_key
from tests.processes import gateway_process, tollgate_env

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


def requests_total(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tollgate_requests_total" and sample.labels.get("status") == "200"
    )


def served_by_worker(directory: Path) -> dict[str, float]:
    """Proxied requests per worker process, from each worker's own counter file."""
    served: dict[str, float] = {}
    for file in directory.glob("counter_*.db"):
        pid = file.stem.removeprefix("counter_")
        for key, count, *_ in MmapedDict.read_all_values_from_file(str(file)):
            name = json.loads(key)[1]
            if name == "tollgate_requests_total" and count:
                served[pid] = served.get(pid, 0.0) + count
    return served


async def spread_traffic(url: str, key: str, metrics_dir: Path) -> int:
    """Concurrent requests on fresh connections until both workers have served some (the
    kernel hands each connection to whichever worker accepts first); the number sent."""
    sent = 0
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=no_reuse) as client:
        while sent < 400:
            batch = [
                client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))
                for _ in range(20)
            ]
            responses = await asyncio.gather(*batch)
            assert all(r.status_code == 200 for r in responses)
            sent += len(batch)
            served = served_by_worker(metrics_dir)
            if len(served) == 2:
                assert sum(served.values()) == sent
                return sent
    raise AssertionError(f"one worker served everything: {served_by_worker(metrics_dir)}")


async def test_two_workers_report_their_traffic_together(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    database = f"sqlite+aiosqlite:///{tmp_path / 'tollgate.db'}"
    with running_fake_engine(FakeEngineConfig()) as engine:
        env = tollgate_env(
            tmp_path,
            TOLLGATE_DATABASE_URL=database,
            TOLLGATE_ADMIN_TOKEN=ADMIN_TOKEN,
            TOLLGATE_USAGE__FLUSH_INTERVAL_S="0.1",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        workers = ("--workers", "2")
        with gateway_process(engine, env, args=workers, keep_lines=60, ready_timeout_s=90) as gw:
            url, process = gw.url, gw.process
            try:
                _, key = create_key(url)
                sent = await spread_traffic(url, key, metrics_dir)
                no_reuse = httpx.Limits(max_keepalive_connections=0)
                with httpx.Client(base_url=url, timeout=30, limits=no_reuse) as client:
                    scrapes = [requests_total(client.get("/metrics").text) for _ in range(8)]
                assert scrapes == [float(sent)] * 8
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        assert await count_rows(database) == sent
