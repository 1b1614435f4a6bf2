"""PNG plots of one or more results: throughput and latency against the load.

Six panels: requests/s, output tokens/s, error share; time to first token, inter-token
latency and end-to-end latency (p50 solid, p99 dashed). Several results share the axes, one
colour each, so "direct" and "through the gateway" read side by side. matplotlib's Agg
backend: no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.bench.compare import step_key


def _x_label(results: list[dict[str, Any]]) -> str:
    kinds = {step_key(step)[0] for r in results for step in r["steps"]}
    if kinds == {"rate"}:
        return "offered load (requests/s)"
    if kinds == {"concurrency"}:
        return "concurrency (requests in flight)"
    return "concurrency, or requests/s for rate runs"


def plot_results(results: list[dict[str, Any]], path: Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    panels = (
        (axes[0][0], "request_throughput", None, "requests/s"),
        (axes[0][1], "output_throughput", None, "output tokens/s"),
        (axes[0][2], "error_share", None, "errors (% of requests)"),
        (axes[1][0], "ttft_ms", ("p50", "p99"), "time to first token (ms)"),
        (axes[1][1], "itl_ms", ("p50", "p99"), "inter-token latency (ms)"),
        (axes[1][2], "e2e_ms", ("p50", "p99"), "end-to-end latency (ms)"),
    )
    spans_decades = False
    all_xs: set[float] = set()
    for index, result in enumerate(results):
        colour = f"C{index % 10}"
        name = str(result.get("label") or f"run {index + 1}")
        steps = sorted(result["steps"], key=step_key)
        xs = [step_key(step)[1] for step in steps]
        all_xs.update(xs)
        if xs and min(xs) > 0 and max(xs) / min(xs) >= 8:
            spans_decades = True
        for ax, metric, points, _ylabel in panels:
            if points is None:
                if metric == "error_share":
                    ys = [
                        100.0 * s["errors"] / s["requests"] if s["requests"] else 0.0 for s in steps
                    ]
                else:
                    ys = [s[metric] for s in steps]
                ax.plot(xs, ys, marker="o", color=colour, label=name)
                continue
            for point, style in zip(points, ("-", "--"), strict=True):
                pairs = [
                    (x, s[metric][point]) for x, s in zip(xs, steps, strict=True) if s.get(metric)
                ]
                if pairs:
                    ax.plot(
                        [p[0] for p in pairs],
                        [p[1] for p in pairs],
                        marker="o",
                        linestyle=style,
                        color=colour,
                        label=f"{name} {point}",
                    )
    for ax, _metric, _points, ylabel in panels:
        ax.set_ylabel(ylabel)
        ax.set_xlabel(_x_label(results))
        if spans_decades:
            ax.set_xscale("log", base=2)
        if all_xs and len(all_xs) <= 12:  # label the loads measured, as plain numbers
            ticks = sorted(all_xs)
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title or " vs ".join(str(r.get("label")) for r in results))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
    return path
