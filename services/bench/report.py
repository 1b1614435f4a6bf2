"""How results look in a terminal: the live progress of a run, the summary and ratio tables."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.bench.workload import BenchSpec


class LiveProgress:
    """One progress bar per step, fed by the runner's events (from any client process)."""

    def __init__(self, spec: BenchSpec, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[errors]} errors[/]"),
            TextColumn("{task.fields[phase]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks = [
            self._progress.add_task(
                step.label, total=spec.requests, start=False, errors=0, phase="waiting"
            )
            for step in spec.steps
        ]

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def on_event(self, event: tuple[Any, ...]) -> None:
        task = self._tasks[event[1]]
        if event[0] == "phase":
            if event[2] == "measure":
                self._progress.start_task(task)
            self._progress.update(task, phase=event[2])
        elif event[0] == "progress":
            errors = self._progress.tasks[task].fields["errors"] + event[3]
            self._progress.update(task, advance=event[2], errors=errors)


def _ms(dist: dict[str, float] | None, point: str) -> str:
    return "-" if not dist else f"{dist[point]:.1f}"


def summary_table(results: dict[str, Any]) -> Table:
    table = Table(
        title=f"{results['label']} ({results['spec']['model']}), latencies in ms",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    columns = ("load", "ok", "err", "req/s", "tok/s", "TTFT p50", "TTFT p99", "ITL p50",
               "ITL p99", "E2E p50", "E2E p90", "E2E p99", "errors")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("load", "errors") else "right")
    for step in results["steps"]:
        table.add_row(
            step["label"],
            str(step["completed"]),
            str(step["errors"]),
            f"{step['request_throughput']:.1f}",
            f"{step['output_throughput']:.0f}",
            _ms(step["ttft_ms"], "p50"),
            _ms(step["ttft_ms"], "p99"),
            _ms(step["itl_ms"], "p50"),
            _ms(step["itl_ms"], "p99"),
            _ms(step["e2e_ms"], "p50"),
            _ms(step["e2e_ms"], "p90"),
            _ms(step["e2e_ms"], "p99"),
            ", ".join(f"{k}: {v}" for k, v in step["errors_by_kind"].items()),
        )
    return table


def _added(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    colour = "green" if value >= 0.98 else "yellow" if value >= 0.9 else "red"
    return f"[{colour}]{value:.3f}x[/]"


def comparison_title(comparison: dict[str, Any]) -> str:
    return f"{comparison['other']} vs {comparison['base']} (added latency in ms)"


def comparison_table(comparison: dict[str, Any]) -> Table:
    table = Table(title=comparison_title(comparison), title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("load", "req/s ratio", "tok/s ratio", "+E2E p50", "+E2E p99",
                   "+TTFT p50", "+TTFT p99", "+ITL p50", "errors"):  # fmt: skip
        table.add_column(column, justify="left" if column == "load" else "right")
    for row in comparison["rows"]:
        table.add_row(
            row["load"],
            _ratio(row["throughput_ratio"]),
            _ratio(row["output_throughput_ratio"]),
            _added(row["added_e2e_p50_ms"]),
            _added(row["added_e2e_p99_ms"]),
            _added(row["added_ttft_p50_ms"]),
            _added(row["added_ttft_p99_ms"]),
            _added(row["added_itl_p50_ms"]),
            f"{row['base_errors']}/{row['errors']}",
        )
    return table
