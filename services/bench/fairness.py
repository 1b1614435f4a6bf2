"""`tollgate bench fairness`: a light key's time to first token while a heavy key floods the
engine, with the gateway's fair queue off and on.

Each mode runs a gateway in this process (uvicorn in a thread, production options) in front of
the same engine: a fake one paced like vLLM (a fixed number of sequences generating at once,
the rest waiting first come first served, as vLLM's scheduler does past `max_num_seqs`), or a
real one with `--upstream`. The heavy key (tier batch) keeps `heavy_concurrency` requests in
flight the whole run (answers of `max_tokens` ± 50 %, so they do not end in lockstep); once
the engine is full, the light key (tier interactive) sends
`light_requests` streamed chats one after another and times each first token. With the fair
queue on, the gateway holds requests once the engine reports waiting ones (mode `engine`, the
defaults) or once `max_in_flight` are in it (mode `cap`), and the held ones wait in per-key
queues, so the light key's request takes the next free sequence instead of queueing behind the
flood inside the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar import Litestar, Request

from gateway.errors import AuthenticationFailed
from gateway.keys.principal import KeyPrincipal
from gateway.proxy.engine_state import parse_metrics
from services.fake_engine import FakeEngineConfig, running_fake_engine
from shared.settings import SchedulingSettings, Settings

FORMAT = "tollgate-bench-fairness/1"
MODES = ("fcfs", "engine", "cap")
_KEYS = {
    "tg-bench-heavy": KeyPrincipal(id="key_heavy", name="heavy", prefix="tg-heavy", tier="batch"),
    "tg-bench-light": KeyPrincipal(
        id="key_light", name="light", prefix="tg-light", tier="interactive"
    ),
}


class FairnessBenchError(RuntimeError):
    """The run could not be made (no engine, the gateway did not start, every request failed)."""


async def _bench_keys(request: Request[Any, Any, Any]) -> KeyPrincipal:
    """Two fixed keys; the bench measures scheduling, not the key store."""
    found = _KEYS.get(request.headers.get("authorization", "").removeprefix("Bearer "))
    if found is None:
        raise AuthenticationFailed("Invalid API key.")
    return found


@contextlib.contextmanager
def _serve(app: Litestar) -> Iterator[str]:
    from gateway.server import serving_app_in_thread
    from shared.threaded_server import ServerDidNotStart

    try:
        with serving_app_in_thread(app, start_timeout_s=15, stop_timeout_s=10) as url:
            yield url
    except ServerDidNotStart as exc:
        raise FairnessBenchError(str(exc)) from None


def _gateway(
    upstream: str, mode: str, max_in_flight: int | None, waiting_threshold: int | None
) -> Litestar:
    from gateway.app import create_app
    from gateway.wiring import StandIns

    scheduling = SchedulingSettings(
        enabled=mode != "fcfs",
        max_in_flight=max_in_flight if mode == "cap" else None,
        engine_waiting_threshold=waiting_threshold,
        max_queue_per_key=10_000,
        max_wait_s=600,
    )
    settings = Settings(upstreams=[upstream], scheduling=scheduling)
    settings.usage.enabled = False
    return create_app(settings, stand_ins=StandIns(keys=_bench_keys))


def _body(model: str, max_tokens: int, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Write a short story about a lighthouse."}],
        "max_tokens": max_tokens,
        "stream": stream,
    }


async def _heavy_worker(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    done: list[float],
    stop: asyncio.Event,
    rng: random.Random,
) -> None:
    max_tokens: int = body["max_tokens"]
    while not stop.is_set():
        # Answers of varied length, as real ones: a flood does not finish in lockstep.
        body = {**body, "max_tokens": rng.randint(max(1, max_tokens // 2), max_tokens * 3 // 2)}
        response = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer tg-bench-heavy"}
        )
        if response.status_code == 200:
            done.append(time.monotonic())


async def _first_token_s(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, float]:
    """Seconds to the first content event of one streamed chat, and the gateway's overhead."""
    sent = time.monotonic()
    async with client.stream(
        "POST",
        "/v1/chat/completions",
        json=body,
        headers={"authorization": "Bearer tg-bench-light"},
    ) as response:
        if response.status_code != 200:
            raise FairnessBenchError(f"the light key's request failed: {response.status_code}")
        overhead_ms = float(response.headers.get("x-tollgate-overhead-ms", "nan"))
        first: float | None = None
        async for line in response.aiter_lines():  # read to the end: the answer completes
            if first is None and line.startswith("data:") and '"content"' in line:
                first = time.monotonic() - sent
    if first is None:
        raise FairnessBenchError("the light key's stream ended without a token")
    return first, overhead_ms


async def _scenario(
    url: str,
    model: str,
    *,
    heavy_concurrency: int,
    light_requests: int,
    max_tokens: int,
    warmup_s: float,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=heavy_concurrency + 8)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        stop = asyncio.Event()
        rng = random.Random(7)  # noqa: S311  # the same answer lengths in both modes
        done: list[float] = []
        heavy_body = _body(model, max_tokens, stream=False)
        workers = [
            asyncio.create_task(_heavy_worker(client, heavy_body, done, stop, rng))
            for _ in range(heavy_concurrency)
        ]
        try:
            await asyncio.sleep(warmup_s)  # the flood fills the engine (and the queue)
            started = time.monotonic()
            ttfts: list[float] = []
            overheads: list[float] = []
            for _ in range(light_requests):
                ttft, overhead = await _first_token_s(client, _body(model, 8, stream=True))
                ttfts.append(ttft * 1000.0)
                overheads.append(overhead)
                await asyncio.sleep(0.2)
            took = time.monotonic() - started
        finally:
            stop.set()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    heavy_done = sum(1 for t in done if started <= t <= started + took)
    ordered = sorted(ttfts)
    return {
        "light_ttft_ms": {
            "p50": round(statistics.median(ttfts), 1),
            "p90": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
            "max": round(ordered[-1], 1),
            "all": [round(t, 1) for t in ttfts],
        },
        "light_overhead_ms_p50": round(statistics.median(overheads), 1),
        "heavy_requests_per_s": round(heavy_done / took, 2) if took > 0 else None,
        "light_phase_s": round(took, 2),
    }


async def _idle(url: str) -> None:
    """Wait (a minute at most) until an engine's earlier flood has drained."""
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(600):
            try:
                sample = parse_metrics((await client.get(f"{url}/metrics")).text, 0.0)
            except (httpx.HTTPError, ValueError):
                return
            if not sample.running and not sample.waiting:
                return
            await asyncio.sleep(0.1)


def run_fairness_bench(
    upstream: str | None = None,
    *,
    heavy_concurrency: int = 32,
    light_requests: int = 10,
    sequences: int = 8,
    max_in_flight: int | None = None,
    max_tokens: int = 32,
    ttft_ms: float = 60.0,
    itl_ms: float = 30.0,
    warmup_s: float = 3.0,
    waiting_threshold: int | None = SchedulingSettings().engine_waiting_threshold,
    modes: tuple[str, ...] = MODES,
) -> dict[str, Any]:
    """Every mode against one engine: the fake one of `sequences` unless `upstream`.

    Modes: `fcfs` (no fair queue: the engine's own first-come-first-served queue), `engine`
    (the defaults: requests held while vLLM reports waiting requests), `cap` (also at most
    `max_in_flight` in the engine; the fake engine's sequence count unless given; skipped for a
    real engine without it).
    """
    with contextlib.ExitStack() as stack:
        engine: dict[str, Any]
        if upstream is None:
            config = FakeEngineConfig(capacity=sequences, ttft_ms=ttft_ms, itl_ms=itl_ms)
            upstream = str(stack.enter_context(running_fake_engine(config)))
            engine = {"kind": "fake", "sequences": sequences, "ttft_ms": ttft_ms, "itl_ms": itl_ms}
            max_in_flight = max_in_flight or sequences
        else:
            engine = {"kind": "vllm", "url": upstream}
        try:
            models = httpx.get(f"{upstream}/v1/models", timeout=30).json()["data"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise FairnessBenchError(f"no engine answers at {upstream}: {exc}") from None
        model = models[0]["id"]
        results: dict[str, Any] = {}
        for mode in modes:
            if mode == "cap" and max_in_flight is None:
                continue
            asyncio.run(_idle(upstream))
            with _serve(_gateway(upstream, mode, max_in_flight, waiting_threshold)) as url:
                results[mode] = asyncio.run(
                    _scenario(
                        url,
                        model,
                        heavy_concurrency=heavy_concurrency,
                        light_requests=light_requests,
                        max_tokens=max_tokens,
                        warmup_s=warmup_s,
                    )
                )
    return {
        "format": FORMAT,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "engine": engine,
        "model": model,
        "heavy_concurrency": heavy_concurrency,
        "light_requests": light_requests,
        "max_in_flight": max_in_flight,
        "max_tokens": max_tokens,
        "warmup_s": warmup_s,
        "engine_waiting_threshold": waiting_threshold,
        "modes": results,
    }
