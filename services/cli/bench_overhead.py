"""`tollgate bench overhead` (services/bench/overhead.py) and `tollgate bench transformers`
(services/bench/gpu_transformers.py): the gateway's own cost, and plain transformers vs vLLM."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from services.cli.common import command_line, err_console, fail, out_console, print_json


def overhead(
    ctx: typer.Context,
    concurrency: str = typer.Option("1,16,64", "--concurrency", "-c", help="closed-loop loads"),
    rounds: int = typer.Option(3, min=1, help="interleaved rounds (targets rotate each time)"),
    requests: int = typer.Option(300, "--requests", "-n", min=1, help="per target, load, round"),
    duration: float = typer.Option(15.0, min=0.1, help="seconds per target, load and round"),
    stream: bool = typer.Option(False, "--stream/--no-stream", help="stream the answers"),
    prompt_tokens: int = typer.Option(64, min=1, help="prompt length (about a word a token)"),
    output_tokens: int = typer.Option(16, min=1, help="max_tokens per request"),
    ignore_eos: bool = typer.Option(False, "--ignore-eos", help="full answers from vLLM"),
    ttft_ms: float = typer.Option(0.0, min=0, help="fake upstream: time to first token"),
    itl_ms: float = typer.Option(0.0, min=0, help="fake upstream: time between tokens"),
    engine_url: str | None = typer.Option(
        None, "--engine-url", help="a real engine instead of the fake upstream"
    ),
    model: str | None = typer.Option(None, help="model (default: the upstream's first)"),
    litellm: Path | None = typer.Option(
        None, help="the `litellm` executable of its own venv: adds LiteLLM proxy as a target"
    ),
    litellm_database_url: str | None = typer.Option(
        None, help="PostgreSQL URL for LiteLLM's virtual keys (else its master key)"
    ),
    workers: int = typer.Option(1, min=1, help="Tollgate worker processes"),
    seed: int = typer.Option(0),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the JSON report here"),
    plot: Path | None = typer.Option(None, "--plot", help="write a PNG plot here"),
    as_json: bool = typer.Option(False, "--json", help="print the report on stdout"),
) -> None:
    """Direct vs through Tollgate (vs through LiteLLM proxy), interleaved in one run: added
    latency, throughput ratio, gateway CPU per request and gateway memory."""
    from services.bench import plot_results
    from services.bench.overhead import OverheadConfig, OverheadError, run_overhead
    from services.bench.report import comparison_table

    try:
        loads = tuple(int(c) for c in concurrency.split(",") if c.strip())
    except ValueError:
        fail("--concurrency must be numbers like 1,16,64")
    config = OverheadConfig(
        concurrency=loads,
        rounds=rounds,
        requests=requests,
        duration_s=duration,
        stream=stream,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        ignore_eos=ignore_eos,
        ttft_ms=ttft_ms,
        itl_ms=itl_ms,
        engine_url=engine_url,
        model=model,
        litellm=litellm,
        litellm_database_url=litellm_database_url,
        workers=workers,
        seed=seed,
    )
    try:
        report = run_overhead(
            config, lambda line: err_console.print(line, highlight=False), command_line(ctx)
        )
    except OverheadError as exc:
        fail(str(exc), code=1)
    for comparison in report["comparisons"]:
        err_console.print(comparison_table(comparison))
    for label, doc in report["results"].items():
        if label == "direct":
            continue
        cpu = ", ".join(
            f"c={s['concurrency']}: {s['gateway_cpu_ms_per_request']:.3f} "
            f"({s['gateway_cpu_ms_per_request_less_idle']:.3f} less idle)"
            for s in doc["steps"]
        )
        t = doc["target"]
        err_console.print(
            f"{label}: CPU ms/request {cpu}; RSS {t['rss_rest_mb']} MB at rest, "
            f"{t['rss_peak_mb']} MB peak under load; idle CPU {t['idle_cpu_ms_per_s']} ms/s",
            highlight=False,
        )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        err_console.print(f"report: {out}", highlight=False)
    if plot is not None:
        plot_results(list(report["results"].values()), plot)
        err_console.print(f"plot: {plot}", highlight=False)
    if as_json:
        print_json(report)


def transformers(
    model_dir: Path = typer.Option(
        None, help="model directory (default: the default model tollgate prepared)"
    ),
    engine_url: str = typer.Option("http://127.0.0.1:8000", help="the vLLM engine serving it"),
    served_model: str | None = typer.Option(None, help="its name there (default: the first)"),
    prompts: int = typer.Option(8, min=1, help="measured prompts (each side, one at a time)"),
    prompt_tokens: int = typer.Option(128, min=1),
    output_tokens: int = typer.Option(128, min=1),
    warmup: int = typer.Option(2, min=0),
    dummy: bool = typer.Option(False, "--dummy", help="random weights from config.json"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the JSON results here"),
) -> None:
    """Plain transformers `generate` vs the vLLM engine: same model, same prompt token ids,
    same answer length, one request at a time."""
    import httpx

    from services.bench import gpu_transformers

    if model_dir is None:
        from shared.settings import load_settings

        model_dir = load_settings().default_model_dir
    if not model_dir.is_dir():
        fail(f"{model_dir}: no such model directory")
    if served_model is None:
        try:
            listing = httpx.get(f"{engine_url.rstrip('/')}/v1/models", timeout=30).json()
            served_model = str(listing["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            fail(f"cannot list the engine's models at {engine_url}: {exc}")
    argv = ["--model-dir", str(model_dir), "--engine-url", engine_url]
    argv += ["--served-model", served_model, "--prompts", str(prompts)]
    argv += ["--prompt-tokens", str(prompt_tokens), "--output-tokens", str(output_tokens)]
    argv += ["--warmup", str(warmup), *(["--dummy"] if dummy else [])]
    argv += ["--out", str(out)] if out else []
    gpu_transformers.main(argv)
    out_console.print()


def register_overhead(app: typer.Typer) -> None:
    app.command("overhead")(overhead)
    app.command("transformers")(transformers)
