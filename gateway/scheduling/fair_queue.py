"""Weighted deficit round robin over per-key queues, with new queues served first.

The scheduling of fq_codel (RFC 8290, §4.2) with requests in place of packets: every active
queue ("flow": a key, or a team) has a deficit, refilled by its weight (its tier's quantum) each
time its turn comes round, and pays one per request served. Flows that just became active sit on
a *new* list that is served before the *old* list of flows that stayed backlogged, so a key that
sends one request now and then is served next, before the 2nd waiting request of a key with
fifty. Unlike fq_codel, a flow leaves the new list as soon as a 2nd request of it waits (a
flood is never "new"); backlogged flows share by weight.

Pure data structure, no I/O and no clock: the scheduler decides when to pop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """The flow already has `max_per_flow` requests waiting."""

    def __init__(self, depth: int) -> None:
        super().__init__(f"{depth} requests already waiting")
        self.depth = depth


@dataclass(slots=True)
class _Flow(Generic[T]):
    weight: int
    deficit: int
    items: deque[T] = field(default_factory=deque)


class FairQueue(Generic[T]):
    def __init__(self, max_per_flow: int) -> None:
        self.max_per_flow = max_per_flow
        self._flows: dict[Hashable, _Flow[T]] = {}  # exactly the flows on one of the lists
        self._new: deque[Hashable] = deque()
        self._old: deque[Hashable] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def depth(self, flow_id: Hashable) -> int:
        flow = self._flows.get(flow_id)
        return len(flow.items) if flow is not None else 0

    def push(self, flow_id: Hashable, item: T, weight: int) -> None:
        """Queue `item` at the end of its flow; raises QueueFull past the bound."""
        flow = self._flows.get(flow_id)
        if flow is None:
            flow = self._flows[flow_id] = _Flow(weight=weight, deficit=weight)
            self._new.append(flow_id)
        elif len(flow.items) >= self.max_per_flow:
            raise QueueFull(len(flow.items))
        else:
            # A team's flow serves keys of several tiers: it takes its most urgent one's weight.
            flow.weight = max(flow.weight, weight)
            if flow.items and flow_id in self._new:
                # A 2nd request waiting: no longer a sparse flow, it takes its turns with the
                # backlogged ones (a flood's first request must not make the flood "new").
                self._new.remove(flow_id)
                self._old.append(flow_id)
        flow.items.append(item)
        self._size += 1

    def remove(self, flow_id: Hashable, item: T) -> bool:
        """Take a waiting item out (its client left, or it waited too long)."""
        flow = self._flows.get(flow_id)
        if flow is None:
            return False
        try:
            flow.items.remove(item)
        except ValueError:
            return False
        self._size -= 1
        return True  # an emptied flow leaves the lists on its next turn, as in fq_codel

    def pop(self) -> T | None:
        """The next item by deficit round robin, or None when nothing waits."""
        while self._size:
            listed = self._new if self._new else self._old
            flow_id = listed[0]
            flow = self._flows[flow_id]
            if flow.deficit <= 0:
                flow.deficit += flow.weight
                listed.popleft()
                self._old.append(flow_id)
                continue
            if not flow.items:
                listed.popleft()
                if listed is self._new and self._old:
                    self._old.append(flow_id)  # so a flow cannot stay "new" by emptying itself
                else:
                    del self._flows[flow_id]
                continue
            flow.deficit -= 1
            self._size -= 1
            return flow.items.popleft()
        # Nothing waits: forget all flows, so whoever comes next starts as a new flow.
        self._flows.clear()
        self._new.clear()
        self._old.clear()
        return None
