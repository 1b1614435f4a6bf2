"""The ledger writer: rows go into a buffer on the request path and reach the database in batches.

`record(outcome)` (a proxy observer) only builds a dict and appends it; one background task
writes up to `batch_size` rows per transaction, whenever a batch is full or `flush_interval_s`
has passed. When the database fails, the batch goes back to the front of the buffer and is
retried with exponential back-off; the buffer keeps accepting rows up to `max_buffer_rows`
(memory stays bounded), and rows beyond that are dropped — never silently: each drop is
counted in a metric and logged. `aclose()` (the app's shutdown, e.g. SIGTERM) writes everything
still buffered, retrying until `shutdown_timeout_s`.

A deque rather than an `asyncio.Queue`: a failed batch must go back to the *front*, and the
bound must count the rows being written too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.errors import DatabaseUnavailable, database_errors
from gateway.proxy.hooks import ProxyOutcome
from gateway.usage.queries import insert_rows
from gateway.usage.records import ledger_row
from shared.logging import get_logger
from shared.settings import UsageSettings

_log = get_logger("tollgate.usage")

_FIRST_RETRY_S = 0.5
_DROP_LOG_INTERVAL_S = 10.0


class LedgerSink(Protocol):
    """Where the writer reports what happened to rows (the metrics module implements it)."""

    def written(self, rows: int) -> None: ...
    def dropped(self, rows: int, reason: str) -> None: ...
    def write_failed(self) -> None: ...
    def buffered(self, rows: int) -> None: ...


class NullSink:
    def written(self, rows: int) -> None:
        pass

    def dropped(self, rows: int, reason: str) -> None:
        pass

    def write_failed(self) -> None:
        pass

    def buffered(self, rows: int) -> None:
        pass


class LedgerWriter:
    def __init__(
        self,
        settings: UsageSettings,
        *,
        sink: LedgerSink | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._batch_size = settings.batch_size
        self._interval = settings.flush_interval_s
        self._max_rows = settings.max_buffer_rows
        self._retry_max = settings.retry_max_s
        self._shutdown_timeout = settings.shutdown_timeout_s
        self._sink: LedgerSink = sink or NullSink()
        self._monotonic = monotonic
        self._buffer: deque[dict[str, Any]] = deque()
        self._writing = 0  # rows taken out of the buffer for the transaction under way
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stopping = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._dropped_unlogged = 0
        self._drop_logged_at: float | None = None
        self.written_total = 0
        self.dropped_total = 0

    @property
    def pending(self) -> int:
        """Rows not yet in the database."""
        return len(self._buffer) + self._writing

    # -- the request path ------------------------------------------------------------------

    def record(self, outcome: ProxyOutcome) -> None:
        """The proxy observer: one row per finished request."""
        try:
            row = ledger_row(outcome)
        except Exception:
            _log.exception("could not build a ledger row", request_id=outcome.request_id)
            self._drop(1, "invalid")
            return
        self.submit(row)

    def submit(self, row: dict[str, Any]) -> None:
        if self._closed:
            self._drop(1, "closed")  # a request that outlived shutdown: nothing writes it now
            return
        if self.pending >= self._max_rows:
            self._drop(1, "buffer_full")
            return
        self._buffer.append(row)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    # -- the background task ---------------------------------------------------------------

    def start(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Start writing through `sessions` (rows recorded before are kept and written)."""
        self._sessions = sessions
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tollgate-usage-writer")

    async def _run(self) -> None:
        delay = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                if delay:
                    # Back off after a failure; full batches must not cut the pause short.
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                else:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            if self._stopping:
                return
            self._wake.clear()
            delay = await self._drain_once()

    async def _drain_once(self) -> float:
        """Write buffered rows batch by batch; 0 when all went in, else the pause to retry after."""
        # One writer at a time: a flush waits for the background task's batch under way.
        async with self._lock:
            return await self._drain_locked()

    async def _drain_locked(self) -> float:
        while self._buffer:
            count = min(self._batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
            self._writing = count
            try:
                written, left, outage = await self._write_batch(batch)
            except BaseException:
                # Cancelled mid-write: the transaction was rolled back, keep the rows.
                self._buffer.extendleft(reversed(batch))
                raise
            finally:
                self._writing = 0
            self._buffer.extendleft(reversed(left))
            if written:
                self.written_total += written
                self._sink.written(written)
            self._sink.buffered(self.pending)
            if outage is not None:
                return self._failed(outage)
            if self._failures:
                _log.info("usage ledger writes recovered", pending=self.pending)
                self._failures = 0
        return 0.0

    async def _write_batch(
        self, batch: list[dict[str, Any]]
    ) -> tuple[int, list[dict[str, Any]], DatabaseUnavailable | None]:
        """(rows written, rows to keep for a retry, the outage that stopped it, if any).

        A batch the database refuses for its data (not an outage) is written in halves, so
        one bad row costs only itself instead of blocking every row behind it.
        """
        try:
            await self._write(batch)
        except DatabaseUnavailable as exc:
            return 0, batch, exc
        except Exception as exc:
            if len(batch) == 1:
                self._reject(batch[0], exc)
                return 0, [], None
            middle = len(batch) // 2
            written, left, outage = await self._write_batch(batch[:middle])
            if outage is not None:
                return written, left + batch[middle:], outage
            more, left, outage = await self._write_batch(batch[middle:])
            return written + more, left, outage
        return len(batch), [], None

    async def _write(self, batch: Sequence[dict[str, Any]]) -> None:
        if self._sessions is None:
            raise DatabaseUnavailable("the usage ledger writer has not been started")
        with database_errors("the usage ledger"):
            async with self._sessions() as session, session.begin():
                await insert_rows(session, batch)

    def _reject(self, row: dict[str, Any], error: Exception) -> None:
        self._drop(1, "rejected")
        _log.error(
            "usage ledger row rejected by the database",
            request_id=row.get("request_id"),
            key_id=row.get("key_id"),
            error=_describe(error),
        )

    def _failed(self, exc: Exception) -> float:
        self._failures += 1
        self._sink.write_failed()
        delay = min(self._retry_max, _FIRST_RETRY_S * 2 ** (self._failures - 1))
        # The first failure and then every tenth are logged: an outage must not flood the log.
        if self._failures == 1 or self._failures % 10 == 0:
            _log.warning(
                "usage ledger write failed; rows kept for retry",
                error=_describe(exc),
                pending=self.pending,
                attempt=self._failures,
                retry_in_s=delay,
            )
        return delay

    def _drop(self, rows: int, reason: str) -> None:
        self.dropped_total += rows
        self._sink.dropped(rows, reason)
        self._dropped_unlogged += rows
        now = self._monotonic()
        if self._drop_logged_at is None or now - self._drop_logged_at >= _DROP_LOG_INTERVAL_S:
            _log.error(
                "usage ledger rows dropped",
                rows=self._dropped_unlogged,
                reason=reason,
                dropped_total=self.dropped_total,
                max_buffer_rows=self._max_rows,
            )
            self._dropped_unlogged = 0
            self._drop_logged_at = now

    # -- flushing and shutdown -------------------------------------------------------------

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Write everything buffered now, retrying failures until `timeout_s` (default: the
        flush interval); True when nothing is left."""
        timeout = timeout_s if timeout_s is not None else self._interval
        deadline = self._monotonic() + timeout
        try:
            async with asyncio.timeout(max(timeout, 0.001)):
                while True:
                    delay = await self._drain_once()
                    if not delay:
                        return True
                    remaining = deadline - self._monotonic()
                    if remaining <= 0:
                        return False
                    await asyncio.sleep(min(delay, remaining))
        except TimeoutError:  # a database that hangs instead of failing
            return False

    async def aclose(self) -> None:
        """Stop the background task and write what is left; rows that cannot be written by
        `shutdown_timeout_s` are dropped, logged and counted."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
        deadline = self._monotonic() + self._shutdown_timeout
        if self._task is not None:
            # The task ends after the write under way (cancelled, its rows kept, if it hangs).
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=self._shutdown_timeout)
            self._task = None
        flushed = await self.flush(max(0.0, deadline - self._monotonic()))
        self._closed = True
        if flushed:
            _log.info("usage ledger flushed", rows_written=self.written_total)
            return
        left = self.pending
        self._buffer.clear()
        self.dropped_total += left
        self._sink.dropped(left, "shutdown")
        self._sink.buffered(0)
        _log.error(
            "usage ledger rows lost at shutdown: the database stayed unreachable",
            rows=left,
            waited_s=self._shutdown_timeout,
        )


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
