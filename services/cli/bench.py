"""`tollgate bench`: the load generator (`run`), result comparison (`compare`) and the fake
vLLM-shaped upstream (`fake-upstream`) that benchmarks and tests run against."""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.bench_gateway import register_gateway_benches
from services.cli.bench_overhead import register_overhead
from services.cli.bench_parts import register_part_benches
from services.cli.bench_soak import register_soak
from services.cli.common import command_line, err_console, fail, out_console, print_json

bench_app = typer.Typer(
    help="Measure OpenAI endpoints: load runs, comparisons, a fake upstream.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("fake-upstream")
def fake_upstream(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8001, min=1, max=65535, help="port (8000 is the real engine's)"),
    ttft_ms: float = typer.Option(0.0, min=0, help="time to the first token (ms)"),
    itl_ms: float = typer.Option(0.0, min=0, help="time between later tokens (ms)"),
    output_tokens: int = typer.Option(
        16, min=1, help="answer length when a request sets no max_tokens"
    ),
    capacity: int = typer.Option(256, min=1, help="answers generated at once; the rest wait"),
    model: list[str] = typer.Option(
        ["fake-model"], "--model", help="served model name (repeat for several)"
    ),
    max_model_len: int = typer.Option(2048, min=16, help="context length"),
    fault: str | None = typer.Option(
        None, help="a fault for every request, e.g. status-503 or die-mid-stream:3"
    ),
    api_key: str | None = typer.Option(
        None, envvar="TOLLGATE_FAKE_API_KEY", help="require this bearer key on /v1 (as vLLM)"
    ),
) -> None:
    """Serve a fake vLLM OpenAI server: instant or paced, with a capacity and faults.

    Controls at run time: POST /fake/control, GET /fake/stats; per request: the
    x-fake-fault, x-fake-ttft-ms and x-fake-itl-ms headers (see services/fake_engine).
    """
    from pydantic import ValidationError

    from services.fake_engine import FakeEngineConfig, serve

    try:
        config = FakeEngineConfig(
            models=tuple(model),
            max_model_len=max_model_len,
            ttft_ms=ttft_ms,
            itl_ms=itl_ms,
            output_tokens=output_tokens,
            capacity=capacity,
            fault=fault,
            api_key=api_key,
        )
    except ValidationError as exc:
        fail(f"invalid option: {exc.errors()[0]['msg']}")
    err_console.print(
        f"[green]starting fake upstream[/] on http://{host}:{port} (models {', '.join(config.models)}; "
        f"ttft {ttft_ms:g} ms, itl {itl_ms:g} ms, capacity {capacity})",
        highlight=False,
    )
    try:
        serve(config, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@bench_app.command("run")
def run(
    ctx: typer.Context,
    url: str = typer.Option(
        "http://127.0.0.1:8080", "--url", help="the endpoint's base URL (with or without /v1)"
    ),
    model: str | None = typer.Option(None, help="model name (default: the first /v1/models lists)"),
    endpoint: str = typer.Option("chat", help="chat (/v1/chat/completions) or completions"),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="stream the answers"),
    concurrency: str | None = typer.Option(
        None, "--concurrency", "-c", help="closed-loop sweep, e.g. 1,4,16,64 (default: 1)"
    ),
    rate: str | None = typer.Option(
        None, "--rate", help="Poisson arrivals in requests/s instead, e.g. 2 or 1,2,4"
    ),
    max_concurrency: int | None = typer.Option(
        None, min=1, help="with --rate: at most this many requests in flight"
    ),
    requests: int | None = typer.Option(
        None, "--requests", "-n", min=1, help="requests per step (default 100 without --duration)"
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="seconds per step; no new request after it"
    ),
    warmup: int | None = typer.Option(
        None, min=0, help="unmeasured requests before each step (default: one per worker)"
    ),
    prompt_tokens: str = typer.Option(
        "128", help="prompt length: N, uniform:MIN:MAX or normal:MEAN:SD (about a word a token)"
    ),
    output_tokens: str = typer.Option(
        "128", help="max_tokens per request: N, uniform:MIN:MAX or normal:MEAN:SD"
    ),
    ignore_eos: bool = typer.Option(
        False, "--ignore-eos", help="ask vLLM to generate exactly max_tokens (vLLM extension)"
    ),
    api_key: str | None = typer.Option(
        None,
        envvar="TOLLGATE_BENCH_API_KEY",
        help="bearer key (or TOLLGATE_BENCH_API_KEY); never printed or saved",
        show_default=False,
    ),
    header: list[str] = typer.Option(
        [], "--header", "-H", help="extra request header 'Name: value' (repeatable)"
    ),
    timeout: float = typer.Option(300.0, min=0.1, help="seconds one request may take"),
    processes: int = typer.Option(
        1, min=1, max=256, help="client processes (one saturates at a few thousand req/s)"
    ),
    seed: int = typer.Option(0, help="seed for lengths, prompts and arrivals"),
    label: str | None = typer.Option(None, help="name of this run in results, tables and plots"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write the JSON results here"),
    plot: Path | None = typer.Option(None, "--plot", help="write a PNG plot here"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON results on stdout"),
) -> None:
    """Load an OpenAI endpoint: a concurrency sweep or a fixed rate, with latency percentiles."""
    from services.bench import (
        BenchError,
        BenchSpec,
        Distribution,
        SpecError,
        parse_steps,
        plot_results,
        run_benchmark,
        save_results,
    )
    from services.bench.report import LiveProgress, summary_table

    base_url = _base_url(url)
    if endpoint not in ("chat", "completions"):
        fail("--endpoint must be chat or completions")
    if requests is None and duration is None:
        requests = 100
    try:
        headers = tuple(_header(h) for h in header)
        spec = BenchSpec(
            base_url=base_url,
            model=model or _first_model(base_url, api_key, headers),
            steps=parse_steps(concurrency, rate, max_concurrency),
            endpoint=endpoint,  # type: ignore[arg-type]
            stream=stream,
            prompt_tokens=Distribution.parse(prompt_tokens),
            output_tokens=Distribution.parse(output_tokens),
            ignore_eos=ignore_eos,
            requests=requests,
            duration_s=duration,
            warmup=warmup,
            timeout_s=timeout,
            processes=processes,
            seed=seed,
            api_key=api_key,
            headers=headers,
            label=label,
        )
    except SpecError as exc:
        fail(str(exc))
    try:
        with LiveProgress(spec, err_console) as live:
            results = run_benchmark(spec, live.on_event, argv=command_line(ctx))
    except BenchError as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: no results written")
        raise typer.Exit(130) from None
    err_console.print(summary_table(results))
    if out is not None:
        save_results(results, out)
        err_console.print(f"results: {out}", highlight=False)
    if plot is not None:
        plot_results([results], plot)
        err_console.print(f"plot: {plot}", highlight=False)
    if as_json:
        print_json(results)
    if any(step["completed"] == 0 for step in results["steps"]):
        raise typer.Exit(1)  # a step where nothing worked is a failed run, for scripts


@bench_app.command("compare")
def compare(
    files: list[Path] = typer.Argument(..., help="results files: the first is the baseline"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
) -> None:
    """Each later run against the first: throughput ratio and the latency it adds (ms)."""
    from services.bench import ResultsError, compare_results, load_results
    from services.bench.report import comparison_table, comparison_title

    if len(files) < 2:
        fail("give at least two results files (the first is the baseline)")
    try:
        runs = [load_results(path) for path in files]
    except ResultsError as exc:
        fail(str(exc))
    comparisons = [compare_results(runs[0], other) for other in runs[1:]]
    if as_json:
        print_json(comparisons)
        return
    for comparison in comparisons:
        if comparison["rows"]:
            out_console.print(comparison_table(comparison))
        else:
            err_console.print(f"{comparison_title(comparison)}: no load in common", highlight=False)
        for side, name in (("only_in_base", "base"), ("only_in_other", "other")):
            if comparison[side]:
                err_console.print(
                    f"[dim]only in {comparison[name]}: {', '.join(comparison[side])}[/]",
                    highlight=False,
                )


@bench_app.command("plot")
def plot_command(
    files: list[Path] = typer.Argument(..., help="results files to draw on the same axes"),
    out: Path = typer.Option(..., "--out", "-o", help="PNG file to write"),
    title: str | None = typer.Option(None, help="figure title (default: the run labels)"),
) -> None:
    """Plot throughput and latency against load for one or more results files."""
    from services.bench import ResultsError, load_results, plot_results

    try:
        runs = [load_results(path) for path in files]
    except ResultsError as exc:
        fail(str(exc))
    plot_results(runs, out, title)
    err_console.print(f"plot: {out}", highlight=False)


def _base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        fail(f"--url must start with http:// or https:// (got {url!r})")
    return url.removesuffix("/v1")


def _header(text: str) -> tuple[str, str]:
    from services.bench import SpecError

    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise SpecError(f"--header must look like 'Name: value' (got {name.strip()!r}…)")
    return name.strip(), value.strip()


def _first_model(base_url: str, api_key: str | None, headers: tuple[tuple[str, str], ...]) -> str:
    """Ask /v1/models which model to load; a clear failure when the endpoint is not there."""
    import httpx

    request_headers = dict(headers)
    if api_key:
        request_headers["authorization"] = f"Bearer {api_key}"
    try:
        response = httpx.get(
            f"{base_url}/v1/models", headers=request_headers, timeout=10, trust_env=False
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base_url}: {type(exc).__name__}", hint="is the endpoint running?")
    if response.status_code != 200:
        fail(
            f"{base_url}/v1/models answered {response.status_code}",
            hint="pass --api-key (or TOLLGATE_BENCH_API_KEY), or --model",
        )
    try:
        return str(response.json()["data"][0]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        fail(f"{base_url}/v1/models lists no model; pass --model")


# Subcommands kept in their own modules, listed after the core ones in --help.
register_soak(bench_app)  # `tollgate bench soak` lives in services/cli/bench_soak.py
register_overhead(bench_app)  # `overhead` and `transformers`: services/cli/bench_overhead.py
register_gateway_benches(bench_app)  # `limiter` and `fairness`: services/cli/bench_gateway.py
register_part_benches(bench_app)  # `ledger`, `routing`, `revocation`: services/cli/bench_parts.py
