"""What a fake engine keeps while it runs: its generation slots and what it saw.

`Slots` is an engine of N sequences: a request holds a slot while it generates, the rest wait
in arrival order, and the capacity can change while requests are in flight (a smaller one
takes effect as slots free up). `Stats` is what `GET /fake/stats` shows so tests can assert,
for example, that a client's disconnect aborted the upstream request or which headers arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from services.fake_engine.config import Controls, FakeEngineConfig
from services.fake_engine.tokens import Vocabulary

MAX_RECORDED_BODY = 64 * 1024  # bodies past this are recorded by size only
RECENT_REQUESTS = 32
UNRECORDED_PATHS = frozenset({"/health", "/metrics"})  # counted, but not kept in `recent`


class Slots:
    """A resizable FIFO semaphore that can report how many hold it and how many wait."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def capacity(self) -> int:
        return self._capacity

    def resize(self, capacity: int) -> None:
        self._capacity = capacity
        self._wake()

    async def acquire(self) -> None:
        if self.running < self._capacity and not self._waiters:
            self.running += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed over just as we were cancelled: give it back.
                self.release()
            else:
                # `_wake` may have popped (and skipped) this cancelled waiter already.
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.running -= 1
        self._wake()

    def _wake(self) -> None:
        # A slot is handed to a waiter by counting it as running before the waiter resumes.
        while self._waiters and self.running < self._capacity:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.running += 1
                waiter.set_result(None)


@dataclass(slots=True)
class SeenRequest:
    """A request as it arrived; decoded only when someone reads `/fake/stats` (hot path stays cheap)."""

    method: str
    path: str
    raw_headers: list[tuple[bytes, bytes]]
    raw_body: bytes | None  # None when it was too large to keep
    body_size: int
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for raw_name, raw_value in self.raw_headers:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return {
            "method": self.method,
            "path": self.path,
            "headers": headers,
            "body": _decoded(self.raw_body, self.body_size),
            "at": self.at,
        }


def _decoded(raw: bytes | None, size: int) -> Any:
    if raw is None:
        return {"_fake_engine_note": f"body of {size} bytes not recorded"}
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


@dataclass(slots=True)
class Stats:
    """Counters since start (or the last `POST /fake/reset`)."""

    started: int = 0  # inference requests that passed validation
    completed: int = 0  # answered in full
    aborted: int = 0  # the client went away before the answer was complete
    faulted: int = 0  # a fault was injected
    rejected: int = 0  # answered with a 4xx (invalid body, unknown model, bad key…)
    prompt_tokens: int = 0
    generation_tokens: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    recent: deque[SeenRequest] = field(default_factory=lambda: deque(maxlen=RECENT_REQUESTS))

    def record(
        self, method: str, path: str, raw_headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        self.by_path[path] = self.by_path.get(path, 0) + 1
        if path in UNRECORDED_PATHS:
            return  # a gateway's health polling must not push real requests out of view
        kept = body if len(body) <= MAX_RECORDED_BODY else None
        self.recent.append(SeenRequest(method, path, raw_headers, kept, len(body)))

    def as_dict(self, slots: Slots, path: str | None = None) -> dict[str, Any]:
        """Counters and the recent requests (only those to `path` when given)."""
        recent = [seen.as_dict() for seen in self.recent if path is None or seen.path == path]
        return {
            "requests_started": self.started,
            "requests_completed": self.completed,
            "requests_aborted": self.aborted,
            "requests_faulted": self.faulted,
            "requests_rejected": self.rejected,
            "running": slots.running,
            "waiting": slots.waiting,
            "prompt_tokens_total": self.prompt_tokens,
            "generation_tokens_total": self.generation_tokens,
            "requests_by_path": dict(self.by_path),
            "last_request": recent[-1] if recent else None,
            "recent_requests": recent,
        }


class EngineState:
    """Everything one fake engine owns, built once per app."""

    def __init__(self, config: FakeEngineConfig) -> None:
        self.config = config
        self.controls = Controls.from_config(config)
        self.slots = Slots(config.capacity)
        self.stats = Stats()
        self.vocab = Vocabulary()
        self.created = int(time.time())

    def reset(self) -> None:
        """Back to the start-up controls and zero counters (requests in flight keep their slots)."""
        self.controls = Controls.from_config(self.config)
        self.slots.resize(self.config.capacity)
        self.stats = Stats()
