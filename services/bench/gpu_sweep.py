"""An interleaved concurrency sweep: several targets (the engine direct, one or more gateways)
measured one after another at each concurrency, so drift in the engine (warm-up, clocks,
other load) hits every target alike instead of the last one swept.

Each measurement is one `tollgate bench run` (`python3 -m services.cli bench run`) with one
concurrency; afterwards the steps of each target are joined into one results file per target
(`<label>.json`, the format `tollgate bench compare` and `plot` read), and the CPU time the
watched processes (e.g. the gateway and its workers) spent during each step is added to the
step as `watched_cpu_s` and `watched_cpu_ms_per_request`.

    python3 -m services.bench.gpu_sweep --target direct=http://127.0.0.1:8000 \
        --target gateway=http://127.0.0.1:8080 --watch gateway=PID \
        --concurrency 1,4,16,64,128,256 --out-dir results/ -- --ignore-eos --output-tokens 128

Options after `--` go to every `bench run` unchanged. The API key comes from
TOLLGATE_BENCH_API_KEY (it is ignored by an engine that asks for none). Used for the GPU run
in docs/benchmarks.md; see services/bench/gpu_run.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.bench.results import load_results, save_results


@dataclass(frozen=True)
class Target:
    label: str
    url: str


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name or not value:
            raise SystemExit(f"{what} must look like LABEL=VALUE (got {item!r})")
        pairs.append((name, value))
    return pairs


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (workers included)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def requests_for(concurrency: int, per_worker: int, minimum: int) -> int:
    return max(minimum, per_worker * concurrency)


def processes_for(concurrency: int, max_processes: int, per_process: int) -> int:
    """Client processes for a step: one per `per_process` requests in flight, at most
    `max_processes`, never more than the concurrency (each process needs one worker)."""
    return max(1, min(max_processes, concurrency, -(-concurrency // per_process)))


def _order(targets: list[Target], index: int, reverse: bool) -> list[Target]:
    """Rotate the targets at every concurrency so none always goes first (engine warm-up and
    a cooling GPU then favour no one); `reverse` flips the whole sweep for a second round."""
    ordered = targets[::-1] if reverse else list(targets)
    shift = index % len(ordered)
    return ordered[shift:] + ordered[:shift]


def _run_one(
    target: Target,
    concurrency: int,
    args: argparse.Namespace,
    seed: int,
    out: Path,
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "services.cli",
        "bench",
        "run",
        "--url",
        target.url,
        "-c",
        str(concurrency),
        "-n",
        str(requests_for(concurrency, args.requests_per_worker, args.min_requests)),
        "--processes",
        str(processes_for(concurrency, args.max_processes, args.per_process)),
        "--seed",
        str(seed),
        "--label",
        target.label,
        "--out",
        str(out),
        *args.bench_args,
    ]
    with out.with_suffix(".log").open("w") as log:
        subprocess.run(
            command, check=False, timeout=args.step_timeout, stdout=log, stderr=subprocess.STDOUT
        )
    return command


def _join(label: str, parts: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any] | None:
    """One results document per target: the first part's metadata, every part's step."""
    steps, commands = [], []
    first: dict[str, Any] | None = None
    for path, extra in parts:
        if not path.exists():
            continue
        part = load_results(path)
        first = first or part
        for step in part["steps"]:
            step.update(extra)
            steps.append(step)
        commands.append(part["command"])
    if first is None:
        return None
    steps.sort(key=lambda s: s.get("concurrency") or 0)
    return {
        **first,
        "label": label,
        "command": commands[0],
        "commands": commands,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", action="append", required=True, help="LABEL=URL")
    parser.add_argument("--watch", action="append", default=[], help="LABEL=PID of its server")
    parser.add_argument("--concurrency", default="1,4,16,64,128,256")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--requests-per-worker", type=int, default=8)
    parser.add_argument("--min-requests", type=int, default=20)
    parser.add_argument("--max-processes", type=int, default=8)
    parser.add_argument("--per-process", type=int, default=32, help="requests in flight a client")
    parser.add_argument("--reverse", action="store_true", help="sweep the targets in reverse")
    parser.add_argument("--seed", type=int, default=1, help="base seed (each run gets its own)")
    parser.add_argument("--step-timeout", type=float, default=300.0)
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.bench_args[:1] == ["--"]:
        args.bench_args = args.bench_args[1:]

    targets = [Target(label, url) for label, url in _pairs(args.target, "--target")]
    watched = {label: int(pid) for label, pid in _pairs(args.watch, "--watch")}
    loads = [int(c) for c in args.concurrency.split(",") if c.strip()]
    parts_dir = args.out_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list[tuple[Path, dict[str, Any]]]] = {t.label: [] for t in targets}
    log = []
    for index, concurrency in enumerate(loads):
        for position, target in enumerate(_order(targets, index, args.reverse)):
            # A different seed per run: the same prompts twice would let the second run hit
            # the engine's prefix cache.
            seed = args.seed * 100_000 + index * 100 + targets.index(target)
            out = parts_dir / f"{target.label}-c{concurrency}.json"
            pid = watched.get(target.label)
            cpu_before = _tree_cpu_s(pid) if pid else 0.0
            started = time.monotonic()
            command = _run_one(target, concurrency, args, seed, out)
            elapsed = time.monotonic() - started
            extra: dict[str, Any] = {"sweep_position": position, "seed": seed}
            if pid and out.exists():
                cpu = _tree_cpu_s(pid) - cpu_before
                done = max(1, load_results(out)["steps"][0]["completed"])
                extra |= {
                    "watched_cpu_s": round(cpu, 3),
                    "watched_cpu_ms_per_request": round(1000 * cpu / done, 3),
                }
            parts[target.label].append((out, extra))
            log.append({"label": target.label, "concurrency": concurrency, "wall_s": elapsed})
            print(
                f"c={concurrency:<4} {target.label:<12} {elapsed:6.1f}s "
                f"{'ok' if out.exists() else 'FAILED'}  {' '.join(command[3:6])}",
                flush=True,
            )
    for label, label_parts in parts.items():
        joined = _join(label, label_parts)
        if joined is not None:
            save_results(joined, args.out_dir / f"{label}.json")
    (args.out_dir / "sweep-log.json").write_text(json.dumps(log, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
