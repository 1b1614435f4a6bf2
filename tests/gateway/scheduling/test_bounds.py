"""Bounded waiting: a full queue answers 429, a long wait 503, a client that leaves is gone."""

from __future__ import annotations

import asyncio

import httpx

from services.fake_engine import RunningFakeEngine
from tests.gateway.proxy.support import wait_for
from tests.gateway.scheduling.conftest import auth, chat, scheduled_gateway, send_all

SLOW = {"x-fake-ttft-ms": "1500"}  # holds the one engine slot while the test looks at the queue


def assert_openai_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "type" in error and "param" in error


def test_a_key_past_its_queue_bound_gets_429_and_other_keys_still_queue(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(
        paced_engine, max_in_flight=1, max_queue_per_key=2, engine_waiting_threshold=None
    ) as gw:

        async def scenario() -> list[httpx.Response]:
            first = asyncio.create_task(send_all(gw, [("heavy", chat(), SLOW)]))
            while gw.scheduler.in_flight < 1:
                await asyncio.sleep(0.005)
            queued = asyncio.create_task(send_all(gw, [("heavy", chat(), {})] * 2))
            while len(gw.scheduler.queue) < 2:
                await asyncio.sleep(0.005)
            (refused,) = await send_all(gw, [("heavy", chat(), {})])
            (other,) = await send_all(gw, [("light", chat(), {})])
            return [refused, other, *await first, *await queued]

        refused, other, *rest = asyncio.run(scenario())
        assert_openai_error(refused, 429, "queue_full")
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert other.status_code == 200 and all(r.status_code == 200 for r in rest)
        assert paced_engine.app.state.stats.started == 4  # the refused one never reached it


def test_a_request_that_waits_past_the_bound_gets_503(paced_engine: RunningFakeEngine) -> None:
    with scheduled_gateway(
        paced_engine, max_in_flight=1, max_wait_s=0.2, engine_waiting_threshold=None
    ) as gw:

        async def scenario() -> list[httpx.Response]:
            first = asyncio.create_task(send_all(gw, [("heavy", chat(), SLOW)]))
            while gw.scheduler.in_flight < 1:
                await asyncio.sleep(0.005)
            (late,) = await send_all(gw, [("light", chat(), {})])
            return [late, *await first]

        late, first = asyncio.run(scenario())
        assert_openai_error(late, 503, "queue_timeout")
        assert first.status_code == 200
        assert len(gw.scheduler.queue) == 0
        assert wait_for(lambda: any(o.error == "queue_timeout" for o in gw.outcomes))
        (timed_out,) = [o for o in gw.outcomes if o.error == "queue_timeout"]
        # The wait shows (uvloop timers may fire a fraction of a millisecond early).
        assert timed_out.queued_ms is not None and timed_out.queued_ms > 150


def test_a_client_that_disconnects_while_queued_leaves_the_queue_at_once(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(paced_engine, max_in_flight=1, engine_waiting_threshold=None) as gw:

        async def scenario() -> list[httpx.Response]:
            first = asyncio.create_task(send_all(gw, [("heavy", chat(), SLOW)]))
            while gw.scheduler.in_flight < 1:
                await asyncio.sleep(0.005)
            leaving = asyncio.create_task(send_all(gw, [("light", chat(), {})]))
            while len(gw.scheduler.queue) < 1:
                await asyncio.sleep(0.005)
            leaving.cancel()  # closes the connection
            while len(gw.scheduler.queue) > 0:
                await asyncio.sleep(0.005)
            # Gone from the queue while the engine's slot is still taken.
            assert gw.scheduler.in_flight == 1 and not first.done()
            return await first

        (first,) = asyncio.run(scenario())
        assert first.status_code == 200
        assert wait_for(lambda: len(gw.outcomes) == 2)
        left = next(o for o in gw.outcomes if o.principal.name == "light")
        assert left.status == 499 and left.client_disconnected and left.upstream is None
        assert gw.scheduler.in_flight == 0
        assert paced_engine.app.state.stats.started == 1  # it never reached the engine


def test_an_unknown_tier_header_is_a_400(paced_engine: RunningFakeEngine) -> None:
    with scheduled_gateway(paced_engine) as gw:
        response = httpx.post(
            f"{gw}/v1/chat/completions",
            json=chat(),
            headers={**auth("light"), "x-tollgate-tier": "urgent"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "x-tollgate-tier"
