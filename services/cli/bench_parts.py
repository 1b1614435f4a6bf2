"""`tollgate bench ledger`, `routing` and `revocation`: one part of the gateway measured alone
(services/bench/ledger.py, routing_cost.py, revocation.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from services.cli.common import err_console, fail, out_console, print_json

if TYPE_CHECKING:
    from rich.progress import Progress


def register_part_benches(app: typer.Typer) -> None:
    app.command("ledger")(ledger)
    app.command("routing")(routing)
    app.command("revocation")(revocation)


def _progress(description: str) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        f"[bold]{description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def ledger(
    url: str = typer.Option(
        ..., "--url", help="SQLAlchemy async URL of a scratch database (its ledger is emptied)"
    ),
    rows: int = typer.Option(1_000_000, min=1, help="rows to write"),
    batch: int = typer.Option(5_000, min=1, help="rows per insert batch"),
    repeat: int = typer.Option(3, min=1, help="runs per query (the median is shown)"),
    keep: bool = typer.Option(False, "--keep", help="leave the rows in place"),
) -> None:
    """The usage ledger: insert throughput, then the report queries (admin API, CLI, UI) over
    `--rows` rows spread over 90 days, as a Markdown table."""
    import asyncio
    import logging

    from gateway.db import DatabaseConfigError, DatabaseUnavailable
    from services.bench.ledger import run_ledger_bench
    from shared.logging import configure_logging

    configure_logging("console", "WARNING")  # the table only, not the prune's log line
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with _progress("writing rows") as progress:
        task = progress.add_task("rows", total=rows)
        try:
            asyncio.run(
                run_ledger_bench(
                    url,
                    rows,
                    batch=batch,
                    repeat=repeat,
                    keep=keep,
                    emit=lambda line: out_console.print(line, highlight=False, markup=False),
                    on_written=lambda n: progress.update(task, completed=n),
                )
            )
        except DatabaseConfigError as exc:
            fail(str(exc))
        except DatabaseUnavailable as exc:
            fail(exc.message, code=1, hint="check --url and that the database runs")


def routing(
    rounds: int = typer.Option(200_000, min=1, help="routing decisions timed per case"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON"),
) -> None:
    """The CPU time routing adds to one request over four engines (in process, no network)."""
    from services.bench.routing_cost import measure_routing_cost

    results = measure_routing_cost(rounds)
    if as_json:
        print_json({"rounds": rounds, "microseconds_per_request": results})
        return
    for label, micros in results.items():
        out_console.print(f"4 engines, {label}: {micros:.2f} µs per request", highlight=False)


def revocation(
    database_url: str = typer.Option(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "--database-url",
        help="PostgreSQL the two gateways share (a schema of the run's own, dropped after)",
    ),
    redis_url: str = typer.Option(
        "redis://127.0.0.1:6379/0", "--redis-url", help="Redis that carries the announcement"
    ),
    rounds: int = typer.Option(30, min=1, help="keys created, used and revoked"),
    as_json: bool = typer.Option(False, "--json", help="print every time (ms) as JSON"),
) -> None:
    """How long a key revoked on one gateway keeps working on another (two gateway processes,
    shared PostgreSQL and Redis, the fake engine)."""
    from services.bench.revocation import RevocationBenchError, measure_revocation, summary

    with _progress("revocations") as progress:
        task = progress.add_task("rounds", total=rounds)
        try:
            took = measure_revocation(
                database_url,
                redis_url,
                rounds,
                on_round=lambda n: progress.update(task, completed=n),
            )
        except RevocationBenchError as exc:
            fail(str(exc), code=1)
    if as_json:
        print_json({"rounds": rounds, "refused_after_ms": took})
        return
    out_console.print(summary(took), highlight=False)
