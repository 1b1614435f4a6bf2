"""`tollgate bench limiter` and `tollgate bench fairness`: what the gateway's own machinery
costs or buys (services/bench/limiter.py, services/bench/fairness.py)."""

from __future__ import annotations

from enum import StrEnum

import typer

from services.cli.common import fail, out_console, print_json


def register_gateway_benches(app: typer.Typer) -> None:
    app.command("limiter")(limiter)
    app.command("fairness")(fairness)


class LimiterBackendChoice(StrEnum):
    memory = "memory"
    redis = "redis"
    both = "both"


def limiter(
    backend: LimiterBackendChoice = typer.Option(
        LimiterBackendChoice.both, help="in-process counters, Redis, or both in turn"
    ),
    redis_url: str | None = typer.Option(
        None,
        "--redis-url",
        help="Redis to measure (default: TOLLGATE_REDIS_URL, else redis://127.0.0.1:6379/0); "
        "the run's keys are deleted afterwards",
    ),
    requests: int = typer.Option(20_000, "--requests", "-n", min=100, help="measured requests"),
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, help="requests at once"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON"),
) -> None:
    """The latency the rate limiter adds per request (admit + settle), p50/p90/p99."""
    from rich.table import Table

    from services.bench.limiter import LimiterBenchError, run_limiter_bench
    from services.cli.common import settings_from_env

    names = ["memory", "redis"] if backend == LimiterBackendChoice.both else [backend.value]
    url = redis_url or settings_from_env().redis_url or "redis://127.0.0.1:6379/0"
    try:
        results = run_limiter_bench(names, url, requests=requests, concurrency=concurrency)
    except LimiterBenchError as exc:
        fail(str(exc))
    if as_json:
        print_json(results)
        return
    table = Table(title=f"rate limiter, added latency per request (ms), concurrency {concurrency}")
    for column in ("backend", "key", "step", "p50", "p90", "p99", "mean", "req/s"):
        table.add_column(
            column, justify="right" if column not in ("backend", "key", "step") else "left"
        )
    for result in results["results"]:
        for key in ("limited_key", "unlimited_key"):
            run = result[key]
            for step in ("admit", "release", "total"):
                d = run[step]
                table.add_row(
                    result["backend"],
                    key.removesuffix("_key"),
                    step,
                    f"{d['p50_ms']:.3f}",
                    f"{d['p90_ms']:.3f}",
                    f"{d['p99_ms']:.3f}",
                    f"{d['mean_ms']:.3f}",
                    f"{run['requests_per_s']:.0f}" if step == "total" else "",
                )
    out_console.print(table)


_FAIRNESS_MODES = {
    "fcfs": "no fair queue (engine FCFS)",
    "engine": "fair queue, engine-state hold",
    "cap": "fair queue + in-flight cap",
}


def fairness(
    upstream: str | None = typer.Option(
        None, help="a real engine's base URL; unset = a fake engine paced like vLLM"
    ),
    heavy_concurrency: int = typer.Option(32, min=1, help="requests the heavy key keeps in flight"),
    light_requests: int = typer.Option(10, min=1, help="streamed chats the light key times"),
    sequences: int = typer.Option(8, min=1, help="the fake engine's sequences generated at once"),
    max_in_flight: int | None = typer.Option(
        None, min=1, help="the in-flight cap of the `cap` run (default: --sequences; fake engine)"
    ),
    warmup_s: float = typer.Option(3.0, min=0, help="seconds of flood before the light key starts"),
    waiting_threshold: int = typer.Option(
        4, min=0, help="TOLLGATE_SCHEDULING__ENGINE_WAITING_THRESHOLD of the fair-queue runs"
    ),
    mode: list[str] = typer.Option(
        ["fcfs", "engine", "cap"], "--mode", help="fcfs, engine, cap (repeat for several)"
    ),
    max_tokens: int = typer.Option(32, min=1, help="answer length of the heavy key's requests"),
    ttft_ms: float = typer.Option(60.0, min=0, help="the fake engine's time to first token"),
    itl_ms: float = typer.Option(30.0, min=0, help="the fake engine's time between tokens"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON"),
) -> None:
    """A light key's time to first token while a heavy key floods the engine, fair queue off/on."""
    from rich.table import Table

    from services.bench.fairness import FairnessBenchError, run_fairness_bench
    from shared.logging import configure_logging

    if unknown := set(mode) - set(_FAIRNESS_MODES):
        fail(f"unknown --mode {', '.join(sorted(unknown))}: use fcfs, engine or cap")
    configure_logging("auto", "WARNING")  # the in-process gateways: no line per request
    try:
        results = run_fairness_bench(
            upstream,
            heavy_concurrency=heavy_concurrency,
            light_requests=light_requests,
            sequences=sequences,
            max_in_flight=max_in_flight,
            max_tokens=max_tokens,
            ttft_ms=ttft_ms,
            itl_ms=itl_ms,
            warmup_s=warmup_s,
            waiting_threshold=waiting_threshold,
            modes=tuple(mode),
        )
    except FairnessBenchError as exc:
        fail(str(exc))
    if as_json:
        print_json(results)
        return
    table = Table(
        title=f"light key TTFT (ms) while a heavy key keeps {heavy_concurrency} in flight"
    )
    for column in ("gateway", "p50", "p90", "max", "heavy req/s"):
        table.add_column(column, justify="left" if column == "gateway" else "right")
    for name, run in results["modes"].items():
        ttft = run["light_ttft_ms"]
        table.add_row(
            _FAIRNESS_MODES[name],
            f"{ttft['p50']:.0f}",
            f"{ttft['p90']:.0f}",
            f"{ttft['max']:.0f}",
            f"{run['heavy_requests_per_s']:.1f}",
        )
    out_console.print(table)
