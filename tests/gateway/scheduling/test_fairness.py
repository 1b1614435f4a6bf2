"""The fair queue in a running gateway, in front of a fake engine of four sequences."""

from __future__ import annotations

import asyncio
import statistics

from services.fake_engine import RunningFakeEngine
from tests.gateway.proxy.support import wait_for
from tests.gateway.scheduling.conftest import Scheduled, auth, chat, scheduled_gateway, send_all


def test_a_lone_request_is_served_next_while_another_key_floods(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(paced_engine, max_in_flight=4, engine_waiting_threshold=None) as gw:

        async def scenario() -> None:
            flood = asyncio.create_task(send_all(gw, [("heavy", chat(), {})] * 40))
            # The engine is full and the rest of the flood waits in the gateway.
            while not (gw.scheduler.in_flight == 4 and len(gw.scheduler.queue) == 36):
                await asyncio.sleep(0.005)
            (lone,) = await send_all(gw, [("light", chat(), {})])
            assert lone.status_code == 200
            assert all(r.status_code == 200 for r in await flood)

        asyncio.run(scenario())
        # The lone request took the first slot that freed, before the flood's next request.
        assert gw.admitted_while_queued("light") == []
        assert wait_for(lambda: len(gw.outcomes) == 41)
        heavy_waits = [o.queued_ms or 0 for o in gw.outcomes if o.principal.name == "heavy"]
        (light,) = [o for o in gw.outcomes if o.principal.name == "light"]
        assert light.queued_ms is not None and light.queued_ms < statistics.median(heavy_waits)


def test_keys_of_one_team_share_one_queue_when_queueing_by_team(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(
        paced_engine, max_in_flight=4, engine_waiting_threshold=None, fair_by="team"
    ) as gw:

        async def scenario() -> None:
            flood = asyncio.create_task(send_all(gw, [("heavy", chat(), {})] * 12))
            while len(gw.scheduler.queue) < 8:
                await asyncio.sleep(0.005)
            # bulk is in heavy's team: it queues behind the team's flood; light does not.
            both = asyncio.create_task(send_all(gw, [("bulk", chat(), {})]))
            while len(gw.scheduler.queue) < 9:
                await asyncio.sleep(0.005)
            await send_all(gw, [("light", chat(), {})])
            await both
            await flood

        asyncio.run(scenario())
        assert gw.admitted_while_queued("light") == []
        # bulk waited behind its team's flood, as if the team were one key.
        assert gw.admitted_while_queued("bulk").count("heavy") >= 8 - 4


def test_requests_wait_in_the_gateway_while_the_engine_reports_a_waiting_queue(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(
        paced_engine, engine_waiting_threshold=2, engine_poll_interval_s=0.05
    ) as gw:

        async def scenario() -> None:
            # No in-flight cap: the first burst reaches the engine, which queues 6 of them.
            burst = asyncio.create_task(send_all(gw, [("heavy", chat(), {})] * 10))
            # A poll finds up to 6 waiting, past the threshold: the gateway's cap drops below 10.
            while gw.scheduler.engine_cap is None:
                await asyncio.sleep(0.01)
            assert gw.scheduler.engine_cap < 10
            later = asyncio.create_task(send_all(gw, [("light", chat(), {})] * 3))
            while len(gw.scheduler.queue) < 3:
                await asyncio.sleep(0.005)
            # Held by the gateway, not added to the engine's queue.
            assert paced_engine.app.state.slots.waiting <= 6
            assert all(r.status_code == 200 for r in await burst + await later)

        asyncio.run(scenario())
        light = [o for o in gw.outcomes if o.principal.name == "light"]
        assert len(light) == 3 and all((o.queued_ms or 0) > 0 for o in light)


def test_inspection_routes_never_wait_in_the_queue(paced_engine: RunningFakeEngine) -> None:
    with scheduled_gateway(paced_engine, max_in_flight=1, engine_waiting_threshold=None) as gw:

        async def scenario() -> None:
            flood = asyncio.create_task(send_all(gw, [("heavy", chat(), {})] * 3))
            while len(gw.scheduler.queue) < 2:
                await asyncio.sleep(0.005)
            import httpx

            async with httpx.AsyncClient(base_url=gw, timeout=10) as client:
                tokens = await client.post(
                    "/tokenize",
                    json={"model": "fake-model", "prompt": "a b"},
                    headers=auth("light"),
                )
            assert tokens.status_code == 200
            assert len(gw.scheduler.queue) >= 1  # still queued: the tokenize went past them
            await flood

        asyncio.run(scenario())


def _engine_started(engine: RunningFakeEngine) -> int:
    started: int = engine.app.state.stats.started
    return started


def test_unused_gateway_does_not_poll_the_engine(paced_engine: RunningFakeEngine) -> None:
    with scheduled_gateway(paced_engine, engine_poll_interval_s=0.01) as gw:
        assert isinstance(gw, Scheduled)
        asyncio.run(asyncio.sleep(0.2))
        assert paced_engine.app.state.stats.by_path.get("/metrics", 0) == 0
        assert _engine_started(paced_engine) == 0
