"""Deficit round robin over per-key queues: who is served next."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway.scheduling.fair_queue import FairQueue, QueueFull


def drain(queue: FairQueue[str], count: int | None = None) -> list[str]:
    served: list[str] = []
    while (count is None or len(served) < count) and (item := queue.pop()) is not None:
        served.append(item)
    return served


def test_a_key_with_one_waiting_request_is_served_before_a_floods_next_request() -> None:
    queue: FairQueue[str] = FairQueue(max_per_flow=100)
    for i in range(50):
        queue.push("heavy", f"heavy-{i}", weight=2)
    assert drain(queue, 3) == ["heavy-0", "heavy-1", "heavy-2"]
    queue.push("light", "light-0", weight=2)
    assert queue.pop() == "light-0"


def test_a_flood_that_arrived_first_does_not_count_as_a_new_key() -> None:
    queue: FairQueue[str] = FairQueue(max_per_flow=100)
    for i in range(50):
        queue.push("heavy", f"heavy-{i}", weight=4)
    queue.push("light", "light-0", weight=1)
    assert queue.pop() == "light-0"


def test_backlogged_keys_share_by_their_tiers_weights() -> None:
    queue: FairQueue[str] = FairQueue(max_per_flow=1000)
    for flow, weight in (("interactive", 4), ("standard", 2), ("batch", 1)):
        for _ in range(300):
            queue.push(flow, flow, weight=weight)
    shares = Counter(drain(queue, 350))
    assert shares == {"interactive": 200, "standard": 100, "batch": 50}


def test_the_queue_of_one_key_is_bounded() -> None:
    queue: FairQueue[str] = FairQueue(max_per_flow=2)
    queue.push("heavy", "a", weight=1)
    queue.push("heavy", "b", weight=1)
    with pytest.raises(QueueFull) as refused:
        queue.push("heavy", "c", weight=1)
    assert refused.value.depth == 2
    queue.push("light", "d", weight=1)  # other keys are not affected
    assert len(queue) == 3


def test_a_removed_request_is_never_served() -> None:
    queue: FairQueue[str] = FairQueue(max_per_flow=10)
    queue.push("heavy", "a", weight=1)
    queue.push("heavy", "b", weight=1)
    assert queue.remove("heavy", "a")
    assert not queue.remove("heavy", "a")
    assert drain(queue) == ["b"]
    assert len(queue) == 0 and queue.depth("heavy") == 0
