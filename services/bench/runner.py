"""Running the steps of a benchmark in one process (asyncio + httpx), and in several.

One Python client process saturates at a few thousand requests per second, so `processes`
splits every step between N spawned processes: each takes its share of the concurrency (or
rate) and of the request count, they start each step together (a barrier), and the parent
merges their raw records before summarising. Progress flows to the caller as small events.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import queue as queue_module
import random
import ssl
import time
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.bench.client import RequestRecord, measure
from services.bench.workload import BenchSpec, BodyFactory, Step

# ("phase", step, "warmup" | "measure" | "done") and ("progress", step, completed, errors).
Event = tuple[Any, ...]
EventSink = Callable[[Event], None]
_PROGRESS_EVERY_S = 0.2


class BenchError(RuntimeError):
    """The benchmark itself failed (not a request: those are counted as errors)."""


@dataclass
class StepRaw:
    """What one process measured in one step."""

    records: list[RequestRecord] = field(default_factory=list)
    gaps: array[float] = field(default_factory=lambda: array("d"))
    started: float = 0.0
    ended: float = 0.0


def share(total: int, index: int, parts: int) -> int:
    """Process `index`'s part of `total`, spreading the remainder over the first ones."""
    return total // parts + (1 if index < total % parts else 0)


class _Progress:
    """Counts completions and reports them at most every 0.2 s (cheap on the hot path)."""

    def __init__(self, emit: EventSink, step: int) -> None:
        self._emit, self._step = emit, step
        self._done = self._errors = 0
        self._last = time.monotonic()

    def add(self, ok: bool) -> None:
        self._done += 1
        self._errors += 0 if ok else 1
        if time.monotonic() - self._last >= _PROGRESS_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._done:
            self._emit(("progress", self._step, self._done, self._errors))
            self._done = self._errors = 0
        self._last = time.monotonic()


class _Clients:
    """One single-connection httpx client per request in flight, reused from a free list.

    httpx's shared pool scans every connection for each request (and retries when a busy one
    was picked), which made it the client's main cost at a few dozen connections; a client per
    worker keeps that O(1) and gives the same keep-alive connections.
    """

    def __init__(self, spec: BenchSpec) -> None:
        headers = {"content-type": "application/json", **dict(spec.headers)}
        if spec.api_key:
            headers["authorization"] = f"Bearer {spec.api_key}"
        self._headers = headers
        self._spec = spec
        # One TLS context for all (building one loads the CA bundle: ~25 ms each).
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context() if spec.base_url.startswith("https:") else False
        )
        self._free: list[httpx.AsyncClient] = []
        self._all: list[httpx.AsyncClient] = []

    def take(self) -> httpx.AsyncClient:
        if self._free:
            return self._free.pop()
        client = httpx.AsyncClient(
            base_url=self._spec.base_url,
            headers=self._headers,
            timeout=httpx.Timeout(self._spec.timeout_s, connect=min(10.0, self._spec.timeout_s)),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=self._verify,
            trust_env=False,  # a benchmark measures the target, never a proxy from the environment
        )
        self._all.append(client)
        return client

    def give_back(self, client: httpx.AsyncClient) -> None:
        self._free.append(client)

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._all), return_exceptions=True)


async def _closed_loop(
    spec: BenchSpec,
    clients: _Clients,
    bodies: BodyFactory,
    workers: int,
    requests: float,
    deadline: float,
    raw: StepRaw | None,
    progress: _Progress | None,
) -> None:
    remaining = [requests]
    gaps = raw.gaps if raw is not None else array("d")

    async def worker() -> None:
        client = clients.take()
        try:
            while remaining[0] > 0 and time.perf_counter() < deadline:
                remaining[0] -= 1
                record = await measure(client, spec.path, bodies.next(), {}, gaps)
                if raw is not None:
                    raw.records.append(record)
                if progress is not None:
                    progress.add(record.ok)
        finally:
            clients.give_back(client)

    await asyncio.gather(*(worker() for _ in range(workers)))


async def _open_loop(
    spec: BenchSpec,
    clients: _Clients,
    bodies: BodyFactory,
    rate: float,
    cap: int | None,
    requests: float,
    deadline: float,
    raw: StepRaw,
    progress: _Progress,
    rng: random.Random,
) -> None:
    """Poisson arrivals: exponential gaps with mean 1/rate, whatever the answers take."""
    in_flight = asyncio.Semaphore(cap) if cap else None
    tasks: set[asyncio.Task[None]] = set()

    async def one(body: bytes) -> None:
        client = clients.take()
        try:
            record = await measure(client, spec.path, body, {}, raw.gaps)
            raw.records.append(record)
            progress.add(record.ok)
        finally:
            clients.give_back(client)
            if in_flight is not None:
                in_flight.release()

    due = time.perf_counter()
    sent = 0
    while sent < requests:
        due += rng.expovariate(rate)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() >= deadline:
            break
        if in_flight is not None:
            await in_flight.acquire()
        task = asyncio.create_task(one(bodies.next()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        sent += 1
    if tasks:
        await asyncio.gather(*tasks)


async def run_step(
    spec: BenchSpec, step: Step, step_index: int, index: int, parts: int, emit: EventSink
) -> StepRaw:
    """This process's part of one step: warm-up (unmeasured), then the measured load."""
    bodies = BodyFactory(spec, stream_seed=step_index * 1000 + index)
    requests: float = share(spec.requests, index, parts) if spec.requests else math.inf
    if step.rate is None:
        assert step.concurrency is not None
        workers = share(step.concurrency, index, parts)
        cap: int | None = None
    else:
        cap = share(step.max_concurrency, index, parts) if step.max_concurrency else None
        workers = cap or 2
    warmup = (
        spec.warmup if spec.warmup is not None else (workers if step.rate is None else 2 * parts)
    )
    raw = StepRaw()
    clients = _Clients(spec)
    try:
        if share(warmup, index, parts):
            emit(("phase", step_index, "warmup"))
            await _closed_loop(
                spec, clients, bodies, workers, share(warmup, index, parts), math.inf, None, None
            )
        emit(("phase", step_index, "measure"))
        progress = _Progress(emit, step_index)
        raw.started = time.perf_counter()
        deadline = raw.started + spec.duration_s if spec.duration_s else math.inf
        if step.rate is None:
            await _closed_loop(spec, clients, bodies, workers, requests, deadline, raw, progress)
        else:
            rng = random.Random(spec.seed * 7919 + step_index * 100 + index)  # noqa: S311
            rate = step.rate / parts
            await _open_loop(
                spec, clients, bodies, rate, cap, requests, deadline, raw, progress, rng
            )
        raw.ended = time.perf_counter()
        progress.flush()
    finally:
        await clients.aclose()
    emit(("phase", step_index, "done"))
    return raw


def _event_loop_runner() -> Callable[[Any], Any]:
    """uvloop when it is there: a cheaper loop leaves more of the CPU to the target."""
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run


def _run_all_in_process(spec: BenchSpec, index: int, parts: int, emit: EventSink) -> list[StepRaw]:
    async def all_steps() -> list[StepRaw]:
        return [
            await run_step(spec, step, i, index, parts, emit) for i, step in enumerate(spec.steps)
        ]

    return _event_loop_runner()(all_steps())


def _child(spec: BenchSpec, index: int, parts: int, out: Any, barrier: Any) -> None:
    """A spawned client process: each step starts when every process is ready."""
    try:

        def emit(event: Event) -> None:
            out.put(("event", event))

        async def all_steps() -> None:
            for step_index, step in enumerate(spec.steps):
                await asyncio.get_running_loop().run_in_executor(None, barrier.wait, 120)
                raw = await run_step(spec, step, step_index, index, parts, emit)
                out.put(("raw", index, step_index, raw))

        _event_loop_runner()(all_steps())
        out.put(("finished", index))
    except BaseException:
        out.put(("failed", index, traceback.format_exc()))


def run_raw(spec: BenchSpec, emit: EventSink) -> list[list[StepRaw]]:
    """Every step's raw records, one `StepRaw` per process."""
    if spec.processes == 1:
        return [[raw] for raw in _run_all_in_process(spec, 0, 1, emit)]
    ctx = mp.get_context("spawn")  # fork would copy the parent's threads and event loop state
    out = ctx.Queue()
    barrier = ctx.Barrier(spec.processes)
    children = [
        ctx.Process(target=_child, args=(spec, i, spec.processes, out, barrier), daemon=True)
        for i in range(spec.processes)
    ]
    for child in children:
        child.start()
    raws: list[list[StepRaw]] = [[] for _ in spec.steps]
    finished = 0
    try:
        while finished < spec.processes:
            try:
                message = out.get(timeout=1.0)
            except queue_module.Empty:
                dead = [c for c in children if c.exitcode not in (None, 0)]
                if dead:
                    raise BenchError(
                        f"a client process died (exit code {dead[0].exitcode})"
                    ) from None
                continue
            kind = message[0]
            if kind == "event":
                emit(message[1])
            elif kind == "raw":
                raws[message[2]].append(message[3])
            elif kind == "finished":
                finished += 1
            else:
                raise BenchError(f"client process {message[1]} failed:\n{message[2]}")
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            with contextlib.suppress(Exception):
                child.join(timeout=5)
    return raws
