"""What a gateway costs: the same load straight at an upstream, through Tollgate and (when a
LiteLLM proxy executable is given) through LiteLLM proxy, measured side by side in one run.

The upstream is the fake vLLM-shaped engine (instant or paced) or a real engine. Tollgate and
LiteLLM run as their own processes, each with a key and a rate limit that is checked on every
request but never reached. Every (round, concurrency) measures all targets one after another,
in an order that rotates, so drift on a shared machine (other jobs, CPU clocks) hits every
target alike. Latencies pool the records of all rounds; throughput is completed requests over
the summed step time. For each gateway it also records the CPU time its process tree spent per
request (warm-up requests included, from /proc via psutil) and its resident memory at rest
(after start and warm-up) and at the peak under load (sampled every 50 ms).

    run_overhead(OverheadConfig(concurrency=(1, 16), litellm=Path("/work/litellm-venv/bin/litellm")))
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.bench.compare import compare_results
from services.bench.results import build_results, machine_info, now_iso, versions
from services.bench.runner import StepRaw, run_raw
from services.bench.summary import summarize_step
from services.bench.workload import BenchSpec, Distribution, Step
from services.fake_engine import FakeEngineConfig, start_fake_engine_process
from services.fake_engine.server import free_port
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready

FORMAT = "tollgate-overhead/1"
_RPM = 10_000_000  # a limit every request is checked against, far above what a run sends


class OverheadError(RuntimeError):
    """A target could not be started or answered nothing."""


@dataclass(frozen=True)
class OverheadConfig:
    concurrency: tuple[int, ...] = (1, 16, 64)
    rounds: int = 3
    requests: int = 300  # per target, concurrency and round
    duration_s: float | None = 15.0  # the same, whichever bound comes first
    stream: bool = False
    endpoint: str = "chat"
    prompt_tokens: int = 64
    output_tokens: int = 16
    ignore_eos: bool = False
    ttft_ms: float = 0.0  # the fake upstream's pacing
    itl_ms: float = 0.0
    capacity: int = 256
    engine_url: str | None = None  # a real engine instead of the fake one
    model: str | None = None
    litellm: Path | None = None  # the `litellm` executable of its own venv
    litellm_database_url: str | None = None  # virtual keys need LiteLLM's Prisma database
    workers: int = 1
    seed: int = 0
    timeout_s: float = 120.0


@dataclass
class Target:
    label: str
    url: str
    api_key: str | None = None
    pid: int | None = None
    how: str = ""
    rss_rest_mb: float | None = None
    rss_peak_mb: float = 0.0
    raws: dict[int, list[StepRaw]] = field(default_factory=dict)
    cpu_s: dict[int, float] = field(default_factory=dict)
    wall_s: dict[int, float] = field(default_factory=dict)
    idle_cpu_ms_per_s: float = 0.0
    sent: dict[int, int] = field(default_factory=dict)


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (workers included)."""
    total = 0.0
    for proc in _tree(pid):
        with contextlib.suppress(Exception):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def tree_rss_mb(pid: int) -> float:
    total = 0
    for proc in _tree(pid):
        with contextlib.suppress(Exception):
            total += proc.memory_info().rss
    return round(total / 2**20, 1)


class _RssSampler:
    """The peak resident memory of a process tree while a step runs."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while self.pid and not self._stop.wait(0.05):
            self.peak = max(self.peak, tree_rss_mb(self.pid))

    def __enter__(self) -> _RssSampler:
        if self.pid:
            self.peak = tree_rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.pid:  # a step shorter than one sampling interval still counts
            self.peak = max(self.peak, tree_rss_mb(self.pid))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOLLGATE_", "LITELLM"))}
    return env | extra


def _started(process: ManagedProcess, url: str, what: str, timeout_s: float = 120) -> None:
    try:
        wait_until_ready(url, process, timeout_s, interval_s=0.2)
    except (ProcessExited, ReadyTimeout) as exc:
        raise OverheadError(f"{what} did not start: {exc}\n{process.last_lines()}") from exc


@contextlib.contextmanager
def _tollgate(upstream: str, workers: int, data_dir: Path) -> Iterator[Target]:
    env = _env(
        TOLLGATE_DATA_DIR=str(data_dir),
        TOLLGATE_LOG_FORMAT="json",
        TOLLGATE_LOG_LEVEL="WARNING",
    )
    cli = [sys.executable, "-m", "services.cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "--name", "bench", "--rpm", str(_RPM), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise OverheadError(f"tollgate keys create failed: {made.stderr[-2000:]}")
    import json

    key = json.loads(made.stdout)["key"]
    port = free_port()
    command = [*cli, "gateway", "--upstream", upstream, "--port", str(port)]
    process = ManagedProcess("tollgate", [*command, "--workers", str(workers)], env, echo=None)
    process.start()
    try:
        _started(process, f"http://127.0.0.1:{port}/health", "the Tollgate gateway")
        how = f"tollgate gateway --workers {workers}, key with rpm {_RPM}, default settings"
        yield Target("tollgate", f"http://127.0.0.1:{port}", key, process.pid, how)
    finally:
        process.stop(grace_s=15)


_LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: {upstream}/v1
      api_key: none
      rpm: {rpm}
litellm_settings:
  drop_params: false
  set_verbose: false
general_settings:
  master_key: {master}
"""


@contextlib.contextmanager
def _litellm(
    executable: Path, upstream: str, model: str, database_url: str | None, work: Path
) -> Iterator[Target]:
    master = "sk-" + secrets.token_urlsafe(24)
    config = work / "litellm.yaml"
    config.write_text(
        _LITELLM_CONFIG.format(model=model, upstream=upstream, rpm=_RPM, master=master)
    )
    port = free_port()
    extra = {"LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    if database_url:
        extra["DATABASE_URL"] = database_url
    command = [str(executable), "--config", str(config), "--port", str(port), "--num_workers", "1"]
    process = ManagedProcess("litellm", command, _env(**extra), echo=None)
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _started(process, f"{base}/health/liveliness", "LiteLLM proxy", timeout_s=180)
        key, how = master, f"litellm proxy (1 worker), master key, model rpm {_RPM}"
        if database_url:
            answer = httpx.post(
                f"{base}/key/generate",
                headers={"authorization": f"Bearer {master}"},
                json={"models": [model], "rpm_limit": _RPM},
                timeout=60,
            )
            if answer.status_code != 200:
                raise OverheadError(f"LiteLLM /key/generate: {answer.status_code} {answer.text}")
            key = answer.json()["key"]
            how = f"litellm proxy (1 worker), virtual key with rpm_limit {_RPM} (PostgreSQL)"
        yield Target("litellm", base, key, process.pid, how)
    finally:
        process.stop(grace_s=15)


def _first_model(url: str) -> str:
    models = httpx.get(f"{url}/v1/models", timeout=30, trust_env=False).json()
    return str(models["data"][0]["id"])


def _spec(config: OverheadConfig, target: Target, model: str, c: int, seed: int) -> BenchSpec:
    return BenchSpec(
        base_url=target.url,
        model=model,
        steps=(Step(concurrency=c),),
        endpoint=config.endpoint,  # type: ignore[arg-type]
        stream=config.stream,
        prompt_tokens=Distribution("fixed", config.prompt_tokens),
        output_tokens=Distribution("fixed", config.output_tokens),
        ignore_eos=config.ignore_eos,
        requests=config.requests,
        duration_s=config.duration_s,
        warmup=c,
        timeout_s=config.timeout_s,
        seed=seed,
        api_key=target.api_key,
        label=target.label,
    )


def _measure(
    config: OverheadConfig, targets: list[Target], model: str, emit: Callable[[str], None]
) -> None:
    for t in targets:  # warm every path (connections, caches, lazy imports), then rest
        run_raw(_spec(config, t, model, 2, 999), lambda _e: None)
    # At rest for 2 s: memory, and the CPU a gateway spends with no traffic (timers, metric
    # sampling), so the per-request figure can be given with and without it.
    idle_before = {t.label: tree_cpu_s(t.pid) for t in targets if t.pid}
    time.sleep(2.0)
    for t in targets:
        t.rss_rest_mb = tree_rss_mb(t.pid) if t.pid else None
        if t.pid:
            t.idle_cpu_ms_per_s = 1000 * (tree_cpu_s(t.pid) - idle_before[t.label]) / 2.0
    for r in range(config.rounds):
        for i, c in enumerate(config.concurrency):
            shift = (r + i) % len(targets)
            for t in targets[shift:] + targets[:shift]:
                seed = config.seed * 1_000_000 + r * 1000 + i * 10 + targets.index(t)
                spec = _spec(config, t, model, c, seed)
                cpu_before = tree_cpu_s(t.pid) if t.pid else 0.0
                wall = time.monotonic()
                with _RssSampler(t.pid) as rss:
                    raw = run_raw(spec, lambda _e: None)[0]
                t.wall_s[c] = t.wall_s.get(c, 0.0) + time.monotonic() - wall
                t.rss_peak_mb = max(t.rss_peak_mb, rss.peak)
                if t.pid:
                    t.cpu_s[c] = t.cpu_s.get(c, 0.0) + tree_cpu_s(t.pid) - cpu_before
                t.raws.setdefault(c, []).extend(raw)
                t.sent[c] = t.sent.get(c, 0) + c + sum(len(x.records) for x in raw)
                done = sum(rec.ok for x in raw for rec in x.records)
                emit(f"round {r + 1}/{config.rounds} c={c:<4} {t.label:<9} {done} ok")


def _step(target: Target, c: int) -> dict[str, Any]:
    """Pooled latencies over every round; throughput over the summed time of the rounds."""
    raws = target.raws[c]
    pooled = StepRaw(records=[rec for raw in raws for rec in raw.records])
    for raw in raws:
        pooled.gaps.extend(raw.gaps)
    pooled.started, pooled.ended = 0.0, sum(raw.ended - raw.started for raw in raws)
    step = summarize_step(Step(concurrency=c), [pooled])
    step["rounds"] = len(raws)
    if target.pid:
        step["gateway_cpu_s"] = round(target.cpu_s[c], 3)
        step["gateway_cpu_ms_per_request"] = round(1000 * target.cpu_s[c] / target.sent[c], 3)
        busy_ms = 1000 * target.cpu_s[c] - target.idle_cpu_ms_per_s * target.wall_s[c]
        step["gateway_cpu_ms_per_request_less_idle"] = round(max(0.0, busy_ms) / target.sent[c], 3)
    return step


def run_overhead(
    config: OverheadConfig, emit: Callable[[str], None] = print, argv: list[str] | None = None
) -> dict[str, Any]:
    """Run the comparison; returns the report (FORMAT): per-target results and comparisons."""
    started_at = now_iso()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tg-overhead-")))
        if config.engine_url:
            upstream = config.engine_url.rstrip("/").removesuffix("/v1")
            upstream_how = f"real engine at {upstream}"
        else:
            fake = FakeEngineConfig(
                ttft_ms=config.ttft_ms,
                itl_ms=config.itl_ms,
                output_tokens=config.output_tokens,
                capacity=config.capacity,
            )
            upstream = stack.enter_context(start_fake_engine_process(fake)).base_url
            upstream_how = (
                f"fake engine (uvicorn+httptools+uvloop), ttft {config.ttft_ms:g} ms, "
                f"itl {config.itl_ms:g} ms, capacity {config.capacity}"
            )
        model = config.model or _first_model(upstream)
        targets = [Target("direct", upstream, how=upstream_how)]
        targets.append(stack.enter_context(_tollgate(upstream, config.workers, work / "tg")))
        if config.litellm:
            targets.append(
                stack.enter_context(
                    _litellm(config.litellm, upstream, model, config.litellm_database_url, work)
                )
            )
        emit("targets: " + "; ".join(f"{t.label} = {t.how}" for t in targets))
        _measure(config, targets, model, emit)
    finished_at = now_iso()
    results = {}
    for t in targets:
        spec = _spec(config, t, model, config.concurrency[0], config.seed)
        steps = [_step(t, c) for c in config.concurrency]
        doc = build_results(spec, steps, started_at=started_at, finished_at=finished_at, argv=argv)
        doc["spec"] |= {"rounds": config.rounds, "concurrency": list(config.concurrency)}
        doc["target"] = {
            "how": t.how,
            "rss_rest_mb": t.rss_rest_mb,
            "rss_peak_mb": t.rss_peak_mb,
            "idle_cpu_ms_per_s": round(t.idle_cpu_ms_per_s, 2),
        }
        results[t.label] = doc
    comparisons = [compare_results(results["direct"], results[t.label]) for t in targets[1:]]
    return {
        "format": FORMAT,
        "started_at": started_at,
        "finished_at": finished_at,
        "machine": machine_info(),
        "versions": versions(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()},
        "results": results,
        "comparisons": comparisons,
    }
