"""`tollgate bench soak`: bounded mixed traffic against a fresh gateway, then leak and loss checks
(services/bench/soak.py)."""

from __future__ import annotations

import typer

from services.cli.common import err_console, out_console, print_json


def soak(
    duration: float = typer.Option(30.0, "--duration", min=1, help="seconds of measured traffic"),
    concurrency: int = typer.Option(32, "--concurrency", "-c", min=1, help="clients in parallel"),
    upstream: str | None = typer.Option(
        None,
        "--upstream",
        help="a real engine's URL (default: a fake engine process, with injected faults)",
    ),
    max_rss_growth: float = typer.Option(
        0.10, min=0, help="largest allowed growth of the gateway's resident memory (0.10 = 10%)"
    ),
    warmup: float = typer.Option(5.0, min=0, help="seconds of traffic before memory is sampled"),
    seed: int = typer.Option(0, help="seed for the traffic mix"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Soak a fresh `tollgate gateway`: plain, streamed, abandoned, faulty, malformed, limited
    and unauthenticated requests for --duration seconds. Fails (exit 1) on an unexpected
    answer, a missing ledger row, memory growth over --max-rss-growth, or leaked slots."""
    from services.bench.soak import SoakConfig, run_soak

    config = SoakConfig(
        duration_s=duration,
        concurrency=concurrency,
        upstream=upstream.rstrip("/") if upstream else None,
        max_rss_growth=max_rss_growth,
        warmup_s=warmup,
        seed=seed,
    )
    err_console.print(f"soaking for {duration:g} s at concurrency {concurrency}…")
    result = run_soak(config)
    summary = result.as_dict()
    if as_json:
        print_json(summary)
    else:
        for name, value in summary.items():
            out_console.print(f"{name:>26}: {value}", highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def register_soak(bench_app: typer.Typer) -> None:
    bench_app.command("soak")(soak)
