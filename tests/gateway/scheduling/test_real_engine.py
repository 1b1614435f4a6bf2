"""Against the real vLLM engine: tiered requests get through, and its /metrics is understood."""

from __future__ import annotations

import asyncio

import httpx

from tests.gateway.scheduling.conftest import auth, scheduled_gateway


def test_priority_requests_of_every_tier_get_through_the_real_engine(engine_url: str) -> None:
    model = httpx.get(f"{engine_url}/v1/models", timeout=30).json()["data"][0]["id"]
    with scheduled_gateway(engine_url, send_priority=True, max_in_flight=1) as gw:

        async def scenario() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=gw, timeout=120) as client:
                return await asyncio.gather(
                    *(
                        client.post(
                            "/v1/chat/completions",
                            json={
                                "model": model,
                                "messages": [{"role": "user", "content": "Say hi."}],
                                "max_tokens": 4,
                            },
                            headers=auth(name),
                        )
                        for name in ("bulk", "light", "chat")
                    )
                )

        responses = asyncio.run(scenario())
        for response in responses:
            assert response.status_code == 200, response.text
            assert response.json()["choices"][0]["message"]["content"]
            assert float(response.headers["x-tollgate-overhead-ms"]) >= 0
        # Two of the three waited for the one slot (max_in_flight=1) while vLLM's metrics were polled.
        load = gw.scheduler.load
        assert load is not None and load.samples
        (sample,) = load.samples.values()
        assert sample.waiting is not None and sample.kv_usage is not None
        waited = [o.queued_ms or 0 for o in gw.outcomes]
        assert sum(1 for w in waited if w > 1) >= 2
