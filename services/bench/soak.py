"""`tollgate bench soak`: a bounded run of mixed, partly hostile traffic against a real
`tollgate gateway` process, then a check that nothing leaked or went missing.

The soak starts its own gateway (a subprocess, SQLite ledger in a temporary directory) in front
of a fake engine process, or of a real engine given with `--upstream`. For `--duration`
seconds, `--concurrency` clients loop over a weighted mix: plain and streamed chat,
completions, streams the client leaves midway, injected engine faults (fake engine only), bad
bodies, a key with a concurrency limit, and wrong keys from another loopback address (so the
per-address auth throttle meets them, not the rest). At the end it checks:

- no unexpected answer: a 5xx only where an engine fault was injected, statuses as each kind
  of request expects, no broken connection but the ones the clients cut themselves;
- the ledger has exactly one row per request made with a valid key;
- the gateway's resident memory grew less than `--max-rss-growth` after warm-up, and its open
  file descriptors by at most a pool's worth;
- nothing is left in flight (`tollgate_requests_in_flight`, `tollgate_upstream_in_flight`) and
  the limited key can still use all of its concurrency slots (none leaked).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.fake_engine import FakeEngineConfig, start_fake_engine_process
from services.fake_engine.server import free_port
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready

LIMITED_SLOTS = 4
GUESSER_ADDRESS = "127.0.0.9"  # wrong keys come from here, so the throttle spares the rest
# Kinds of request and their weights; `fault` and `bad_key` need the fake engine's controls.
MIX = {
    "chat": 35,
    "stream": 25,
    "completion": 10,
    "leave_stream": 6,
    "fault": 8,
    "bad_body": 5,
    "limited": 6,
    "bad_key": 5,
}
# Injected faults and what the client must see.
FAULTS = {
    "status-503": {503},
    "status-500": {500},
    "close-before-headers": {502},
    "hang": {504},
    "die-mid-stream:2": {200},  # a stream that ends in an error event
}
EXPECTED = {
    "chat": {200},
    "stream": {200},
    "completion": {200},
    "leave_stream": {200},
    "bad_body": {400},
    "limited": {200, 429},
    "bad_key": {401, 429},
}
_SETTLE_S = 3.0  # longer than /metrics' engine sampling interval (gateway/metrics/plugin.py)
FD_SLACK = 32  # pooled connections to the engine and the database may differ between samples


@dataclass(frozen=True)
class SoakConfig:
    duration_s: float = 30.0
    concurrency: int = 32
    upstream: str | None = None  # None: a fake engine process is started
    max_rss_growth: float = 0.10
    warmup_s: float = 5.0
    seed: int = 0


@dataclass
class SoakResult:
    config: SoakConfig
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    with_key: int = 0
    ledger_rows: int = 0
    rss_before: int = 0
    rss_after: int = 0
    fds_before: int = 0
    fds_after: int = 0
    in_flight_after: float = 0.0
    upstream_in_flight_after: float = 0.0
    limited_slots_free: int = 0
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def rss_growth(self) -> float:
        return (self.rss_after - self.rss_before) / self.rss_before if self.rss_before else 0.0

    @property
    def passed(self) -> bool:
        return not self.problems

    def judge(self) -> None:
        problems = self.problems
        if self.unexpected:
            problems.append(f"{len(self.unexpected)} unexpected answers, e.g. {self.unexpected[0]}")
        if self.ledger_rows != self.with_key:
            problems.append(f"ledger has {self.ledger_rows} rows for {self.with_key} requests")
        if self.rss_growth > self.config.max_rss_growth:
            problems.append(f"resident memory grew {self.rss_growth:.1%}")
        if self.fds_after - self.fds_before > FD_SLACK:
            problems.append(f"open files grew from {self.fds_before} to {self.fds_after}")
        if self.in_flight_after or self.upstream_in_flight_after:
            problems.append("requests still counted in flight after the run")
        if self.limited_slots_free != LIMITED_SLOTS:
            problems.append(f"only {self.limited_slots_free}/{LIMITED_SLOTS} slots free")

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "problems": self.problems,
            "duration_s": self.config.duration_s,
            "concurrency": self.config.concurrency,
            "upstream": self.config.upstream or "fake engine",
            "elapsed_s": round(self.elapsed_s, 1),
            "requests": self.total,
            "requests_per_s": round(self.total / self.elapsed_s, 1) if self.elapsed_s else 0,
            "by_kind": dict(self.requests),
            "by_status": dict(self.statuses),
            "unexpected": self.unexpected[:20],
            "requests_with_key": self.with_key,
            "ledger_rows": self.ledger_rows,
            "rss_before_mb": round(self.rss_before / 2**20, 1),
            "rss_after_mb": round(self.rss_after / 2**20, 1),
            "rss_growth": round(self.rss_growth, 4),
            "fds_before": self.fds_before,
            "fds_after": self.fds_after,
            "in_flight_after": self.in_flight_after,
            "upstream_in_flight_after": self.upstream_in_flight_after,
            "limited_slots_free": (
                f"{self.limited_slots_free}/{LIMITED_SLOTS}"
                if self.config.upstream is None
                else "not checked (a real engine's answer cannot be held open on purpose)"
            ),
        }


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _metric(text: str, name: str) -> float:
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.split("{")[0].split(" ")[0] == name
    )


@contextlib.contextmanager
def _gateway(
    upstream: str, data_dir: Path, admin_token: str, *, fake: bool
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")},
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_ADMIN_TOKEN": admin_token,
        "TOLLGATE_LOG_FORMAT": "json",
        "TOLLGATE_LOG_LEVEL": "WARNING",
        "TOLLGATE_USAGE__FLUSH_INTERVAL_S": "0.5",
    }
    if fake:  # the injected `hang` faults end in a 504 after 2 s, not the default minutes
        env["TOLLGATE_GATEWAY__FIRST_BYTE_TIMEOUT_S"] = "2"
    command = [sys.executable, "-m", "services.cli", "gateway", "--port", str(port)]
    process = ManagedProcess("gateway", [*command, "--upstream", upstream], env, echo=None)
    process.start()
    try:
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/health", process, 60, interval_s=0.1)
        except (ProcessExited, ReadyTimeout) as exc:
            raise RuntimeError(f"the gateway did not start: {exc}\n{process.last_lines()}") from exc
        assert process.pid is not None
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.stop(grace_s=30)


class _Traffic:
    def __init__(self, url: str, keys: dict[str, str], model: str, config: SoakConfig) -> None:
        self.url = url
        self.keys = keys
        self.model = model
        self.config = config
        self.result = SoakResult(config)
        self.kinds = [k for k in MIX if config.upstream is None or k != "fault"]
        self.weights = [MIX[k] for k in self.kinds]
        self.measuring = False

    async def run(self, client: httpx.AsyncClient, guesser: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + self.config.duration_s
        workers = [
            self._worker(client, guesser, random.Random(self.config.seed + i), deadline)  # noqa: S311
            for i in range(self.config.concurrency)
        ]
        await asyncio.gather(*workers)

    async def _worker(
        self, client: httpx.AsyncClient, guesser: httpx.AsyncClient, rng: random.Random, end: float
    ) -> None:
        while time.monotonic() < end:
            kind = rng.choices(self.kinds, self.weights)[0]
            try:
                await self._one(client, guesser, kind, rng)
            except httpx.HTTPError as exc:
                self.result.unexpected.append(f"{kind}: {type(exc).__name__}: {exc}")

    async def _one(
        self, client: httpx.AsyncClient, guesser: httpx.AsyncClient, kind: str, rng: random.Random
    ) -> None:
        chat = {"model": self.model, "messages": [{"role": "user", "content": "soak"}]}
        headers = {"authorization": f"Bearer {self.keys['main']}"}
        expected = EXPECTED.get(kind, set())
        route, body = "/v1/chat/completions", {**chat, "max_tokens": rng.randint(4, 24)}
        http = client
        if kind == "completion":
            route, body = (
                "/v1/completions",
                {"model": self.model, "prompt": "soak", "max_tokens": 8},
            )
        elif kind in ("stream", "leave_stream"):
            body["stream"] = True
        elif kind == "fault":
            fault = rng.choice(list(FAULTS))
            headers["x-fake-fault"] = fault
            expected = FAULTS[fault]
            body["stream"] = fault.startswith("die")
        elif kind == "limited":
            headers["authorization"] = f"Bearer {self.keys['limited']}"
        elif kind == "bad_key":
            headers["authorization"] = f"Bearer tg-{secrets.token_urlsafe(32)}"
            http = guesser
        content = b'{"model": ' if kind == "bad_body" else None
        async with http.stream(
            "POST",
            route,
            json=None if content else body,
            content=content,
            headers={**headers, "content-type": "application/json"},
        ) as response:
            if kind == "leave_stream" and response.status_code == 200:
                async for _ in response.aiter_lines():
                    break  # the client walks away after the first event
            else:
                await response.aread()
        self.result.requests[kind] += 1
        self.result.statuses[str(response.status_code)] += 1
        if kind != "bad_key":
            self.result.with_key += 1
        if response.status_code not in expected:
            what = f"{kind} {headers.get('x-fake-fault', '')}".strip()
            self.result.unexpected.append(f"{what}: {response.status_code} {response.text[:200]}")


async def _check_slots(client: httpx.AsyncClient, key: str, model: str) -> int:
    """How many of the limited key's slots can be held at once (all of them, unless leaked)."""
    body = {"model": model, "messages": [{"role": "user", "content": "x"}], "max_tokens": 4}
    headers = {"authorization": f"Bearer {key}", "x-fake-ttft-ms": "500"}
    answers = await asyncio.gather(
        *(client.post("/v1/chat/completions", json=body, headers=headers) for _ in range(4))
    )
    return sum(1 for a in answers if a.status_code == 200)


async def _soak(url: str, pid: int, admin_token: str, db: Path, config: SoakConfig) -> SoakResult:
    admin = {"authorization": f"Bearer {admin_token}"}
    limits = httpx.Limits(max_connections=config.concurrency + 8)
    async with (
        httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client,
        httpx.AsyncClient(
            base_url=url,
            timeout=30,
            transport=httpx.AsyncHTTPTransport(local_address=GUESSER_ADDRESS),
        ) as guesser,
    ):
        keys = {}
        for name, extra in (("main", {}), ("limited", {"max_concurrency": LIMITED_SLOTS})):
            created = await client.post(
                "/admin/keys", json={"name": f"soak-{name}", **extra}, headers=admin
            )
            created.raise_for_status()
            keys[name] = created.json()["key"]
        models = await client.get("/v1/models", headers={"authorization": f"Bearer {keys['main']}"})
        model = models.json()["data"][0]["id"]
        listed = 1  # that listing is a request with a key: it has its ledger row too

        warm = SoakConfig(**{**config.__dict__, "duration_s": config.warmup_s})
        warmup = _Traffic(url, keys, model, warm)
        await warmup.run(client, guesser)
        await asyncio.sleep(1.0)
        rss_before, fds_before = _rss(pid), _fds(pid)

        traffic = _Traffic(url, keys, model, config)
        started = time.monotonic()
        await traffic.run(client, guesser)
        result = traffic.result
        result.elapsed_s = time.monotonic() - started
        result.with_key += warmup.result.with_key + listed
        result.unexpected += warmup.result.unexpected

        # Answers of clients that left are settled, and the engines' gauges sampled again.
        await asyncio.sleep(_SETTLE_S)
        result.rss_before, result.fds_before = rss_before, fds_before
        result.rss_after, result.fds_after = _rss(pid), _fds(pid)
        metrics = (await client.get("/metrics")).text
        result.in_flight_after = _metric(metrics, "tollgate_requests_in_flight")
        result.upstream_in_flight_after = _metric(metrics, "tollgate_upstream_in_flight")
        if config.upstream is None:
            result.limited_slots_free = await _check_slots(client, keys["limited"], model)
            result.with_key += LIMITED_SLOTS
        else:
            result.limited_slots_free = LIMITED_SLOTS  # no way to hold a real engine's answer
    result.ledger_rows = await asyncio.to_thread(_wait_for_rows, db, result.with_key)
    return result


def _wait_for_rows(db: Path, expected: int, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.closing(sqlite3.connect(db)) as connection:
            rows = int(connection.execute("SELECT count(*) FROM usage_records").fetchone()[0])
        if rows >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def run_soak(config: SoakConfig) -> SoakResult:
    """Start the engine (unless given) and a gateway, soak them, judge the result."""
    admin_token = secrets.token_urlsafe(24)
    with contextlib.ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tollgate-soak-")))
        upstream = config.upstream
        if upstream is None:
            engine = FakeEngineConfig(ttft_ms=5, itl_ms=2, capacity=512)
            upstream = stack.enter_context(start_fake_engine_process(engine)).base_url
        fake = config.upstream is None
        url, pid = stack.enter_context(_gateway(upstream, data_dir, admin_token, fake=fake))
        result = asyncio.run(_soak(url, pid, admin_token, data_dir / "tollgate.db", config))
    result.judge()
    return result
