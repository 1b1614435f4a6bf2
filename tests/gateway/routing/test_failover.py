"""An engine that fails before answering is skipped: killed mid-run, refusing with 502/503,
taken out by health checks and brought back when it recovers. Never retried once bytes were
sent to the client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx

from services.fake_engine import (
    FakeEngineConfig,
    FakeEngineProcess,
    RunningFakeEngine,
    running_fake_engine,
    start_fake_engine_process,
)
from tests.gateway.proxy.support import wait_for
from tests.gateway.routing.support import auth, burst, chat, error_of, routed_gateway, served

SHARED = FakeEngineConfig(models=("shared",), ttft_ms=40)


@contextlib.contextmanager
def two_processes(
    first: FakeEngineConfig = SHARED, second: FakeEngineConfig = SHARED
) -> Iterator[tuple[FakeEngineProcess, FakeEngineProcess]]:
    with start_fake_engine_process(first) as a, start_fake_engine_process(second) as b:
        yield a, b


def _healthy(gateway: str) -> int:
    return int(httpx.get(f"{gateway}/ready", timeout=10).json().get("upstreams_healthy", 0))


async def test_every_request_succeeds_when_an_engine_is_killed_mid_run() -> None:
    slow = FakeEngineConfig(models=("shared",), ttft_ms=200)
    with two_processes(slow, slow) as (a, b), routed_gateway([a.base_url, b.base_url]) as gateway:
        async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:

            async def one() -> int:
                answer = await client.post(
                    "/v1/chat/completions", json=chat("shared"), headers=auth()
                )
                return answer.status_code

            statuses: list[int] = []
            for round_ in range(5):
                batch = asyncio.gather(*(one() for _ in range(6)))
                if round_ == 2:
                    await asyncio.sleep(0.1)  # half of this round waits on engine a now
                    a.kill()
                statuses += await batch
        # Those cut on a before any answer went to b; later ones skip a (marked down).
        assert statuses == [200] * 30
        assert served(b.base_url) >= 18


async def test_an_engine_back_after_a_crash_gets_traffic_again() -> None:
    with two_processes() as (a, b), routed_gateway([a.base_url, b.base_url]) as gateway:
        a.kill()
        before = served(b.base_url)
        answers = await burst(gateway, 10, "shared")
        assert [r.status_code for r in answers] == [200] * 10
        assert served(b.base_url) - before == 10
        a.start()  # same port, a fresh process: its counters start at zero
        assert wait_for(lambda: _healthy(gateway) == 2, timeout_s=10, interval_s=0.1)
        answers = await burst(gateway, 10, "shared")
        assert [r.status_code for r in answers] == [200] * 10
        assert served(a.base_url) >= 3


async def test_a_502_or_503_from_one_engine_is_retried_on_another(
    alpha_engine: RunningFakeEngine,
) -> None:
    with (
        running_fake_engine(FakeEngineConfig(models=("shared",))) as broken,
        running_fake_engine(FakeEngineConfig(models=("shared",))) as good,
        routed_gateway([broken, good]) as gateway,
    ):
        for status in (503, 502):
            httpx.post(f"{broken}/fake/control", json={"fault": f"status-{status}"})
            answers = await burst(gateway, 6, "shared")
            assert [r.status_code for r in answers] == [200] * 6
        assert served(broken) > 0  # it was asked, refused, and the client never saw it
        assert served(good) == 12
        # A 500 is the engine's answer, not a refusal: it goes to the client as it is.
        httpx.post(f"{broken}/fake/control", json={"fault": "status-500"})
        httpx.post(f"{good}/fake/control", json={"fault": "status-500"})
        failed = httpx.post(f"{gateway}/v1/chat/completions", json=chat("shared"), headers=auth())
        assert failed.status_code == 500


def test_a_stream_cut_after_its_first_bytes_is_not_sent_again() -> None:
    cut = FakeEngineConfig(models=("shared",), fault="die-mid-stream:2")
    with (
        running_fake_engine(cut) as first,
        running_fake_engine(cut) as second,
        routed_gateway([first, second]) as gateway,
    ):
        with httpx.stream(
            "POST",
            f"{gateway}/v1/chat/completions",
            json=chat("shared", max_tokens=8, stream=True),
            headers=auth(),
            timeout=30,
        ) as stream:
            assert stream.status_code == 200
            text = "".join(stream.iter_text())
        assert '"content"' in text  # the client got tokens, then the gateway's error event
        assert '"error"' in text
        assert served(first) + served(second) == 1


async def test_a_model_whose_engines_are_all_down_is_a_503_while_others_work(
    beta_engine: RunningFakeEngine,
) -> None:
    with (
        start_fake_engine_process(FakeEngineConfig(models=("alpha",))) as alpha,
        routed_gateway([alpha.base_url, beta_engine]) as gateway,
    ):
        alpha.kill()
        down = httpx.post(f"{gateway}/v1/chat/completions", json=chat("alpha"), headers=auth())
        assert down.status_code == 503
        error = error_of(down)
        assert "alpha" in error["message"] and error["type"] == "upstream_unavailable"
        up = httpx.post(f"{gateway}/v1/chat/completions", json=chat("beta"), headers=auth())
        assert up.status_code == 200


async def test_an_engine_failing_its_health_check_is_taken_out_and_brought_back() -> None:
    config = FakeEngineConfig(models=("shared",))
    with (
        running_fake_engine(config) as sick,
        running_fake_engine(config) as well,
        routed_gateway([sick, well]) as gateway,
    ):
        httpx.post(f"{sick}/fake/control", json={"healthy": False})  # still answers requests
        assert wait_for(lambda: _healthy(gateway) == 1, timeout_s=5, interval_s=0.1)
        answers = await burst(gateway, 8, "shared")
        assert [r.status_code for r in answers] == [200] * 8
        assert served(sick) == 0 and served(well) == 8
        httpx.post(f"{sick}/fake/control", json={"healthy": True})
        assert wait_for(lambda: _healthy(gateway) == 2, timeout_s=5, interval_s=0.1)
        await burst(gateway, 8, "shared")
        assert served(sick) >= 2
