"""Queue time shows: a response header, the access log line, and the outcome (ledger, metrics)."""

from __future__ import annotations

import asyncio

import httpx

from services.fake_engine import RunningFakeEngine
from tests.gateway.proxy.support import LogCapture, wait_for
from tests.gateway.scheduling.conftest import auth, chat, scheduled_gateway, send_all

OVERHEAD = "x-tollgate-overhead-ms"


def test_every_proxied_response_says_the_gateways_own_time(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(paced_engine, max_in_flight=1, max_queue_per_key=1) as gw:
        plain = httpx.post(f"{gw}/v1/chat/completions", json=chat(), headers=auth("light"))
        with httpx.stream(
            "POST", f"{gw}/v1/chat/completions", json=chat(stream=True), headers=auth("light")
        ) as stream:
            streamed_overhead = float(stream.headers[OVERHEAD])
            stream.read()
        models = httpx.get(f"{gw}/v1/models", headers=auth("light"))
        refused = httpx.post(
            f"{gw}/v1/chat/completions",
            json=chat(),
            headers={**auth("light"), "x-tollgate-tier": "bogus"},
        )
        for response in (plain, models, refused):
            assert float(response.headers[OVERHEAD]) >= 0
        # The engine's own time (150 ms to the first token) is not the gateway's.
        assert float(plain.headers[OVERHEAD]) < plain.elapsed.total_seconds() * 1000 - 100
        assert streamed_overhead >= 0
        assert OVERHEAD not in httpx.get(f"{gw}/health").headers


def test_a_queued_requests_wait_is_in_its_header_log_line_and_outcome(
    paced_engine: RunningFakeEngine, logs: LogCapture
) -> None:
    with scheduled_gateway(paced_engine, max_in_flight=1) as gw:
        slow = {"x-fake-ttft-ms": "400"}

        async def scenario() -> httpx.Response:
            first = asyncio.create_task(send_all(gw, [("heavy", chat(), slow)]))
            while gw.scheduler.in_flight < 1:
                await asyncio.sleep(0.005)
            (queued,) = await send_all(gw, [("light", chat(), {})])
            await first
            return queued

        queued = asyncio.run(scenario())
        assert wait_for(lambda: len(gw.outcomes) == 2)
        (outcome,) = [o for o in gw.outcomes if o.principal.name == "light"]
        assert outcome.queued_ms is not None and outcome.queued_ms > 100
        assert float(queued.headers[OVERHEAD]) >= outcome.queued_ms
        assert wait_for(lambda: len(logs.access()) >= 2)
        (line,) = [a for a in logs.access() if a["key_name"] == "light"]
        assert line["queued_ms"] == outcome.queued_ms
