"""Background tasks the gateway keeps beside requests: cancelling one cleanly, and caches of a
few database rows reloaded on a timer."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from typing import Any


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait until it has stopped (a no-op for `None`)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class PeriodicRefresh(ABC):
    """Something read once at start, then again every `refresh_s` (at least a second) until
    closed. `refresh` keeps the last good state when a read fails, so a database that is down
    never empties the cache."""

    def __init__(self, refresh_s: float, task_name: str) -> None:
        self._refresh_s = max(refresh_s, 1.0)
        self._task_name = task_name
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def refresh(self) -> bool:
        """Reload now; False (the last state kept) when the source could not be read."""

    async def start(self) -> None:
        await self.refresh()
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_forever(), name=self._task_name)

    async def aclose(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.refresh()
