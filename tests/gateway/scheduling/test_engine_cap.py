"""The in-flight cap learnt from the engine's room: cut by the excess, grown back by the room."""

from __future__ import annotations

from typing import Any, cast

from gateway.proxy.engine_state import MetricsSample
from gateway.scheduling import Scheduler
from gateway.scheduling.engine_load import Thresholds
from shared.settings import SchedulingSettings


class Polled:
    """Stands in for EngineLoadWatch: the room the last poll found (negative: excess)."""

    def __init__(self) -> None:
        self.found: int | None = None

    def room(self) -> int | None:
        return self.found


class GoneWaiter:
    """A queued request whose client already left (dispatch skips it)."""

    class future:
        @staticmethod
        def done() -> bool:
            return True


def scheduler_with(polled: Polled, in_flight: int) -> Scheduler:
    scheduler = Scheduler(SchedulingSettings())
    scheduler.load = cast(Any, polled)
    scheduler.in_flight = in_flight
    return scheduler


def sample(running: float, waiting: float, kv: float = 0.1) -> MetricsSample:
    return MetricsSample(0.0, running, waiting, kv, None, None)


def test_room_is_free_sequences_plus_the_threshold_minus_what_waits() -> None:
    limits = Thresholds(waiting=4, kv_cache=None)
    assert limits.room(sample(running=128, waiting=30), batch_size=128) == -26
    assert limits.room(sample(running=128, waiting=1), batch_size=128) == 3
    assert limits.room(sample(running=100, waiting=0), batch_size=128) == 32
    assert limits.room(sample(running=100, waiting=0), batch_size=None) == 25  # a guess
    assert limits.room(sample(running=8, waiting=0), batch_size=None) == 4
    with_kv = Thresholds(waiting=4, kv_cache=0.9)
    assert with_kv.room(sample(running=100, waiting=0, kv=0.95), batch_size=128) == -1


def test_a_waiting_queue_past_the_threshold_cuts_the_cap_by_the_excess() -> None:
    polled = Polled()
    scheduler = scheduler_with(polled, in_flight=40)
    polled.found = -10  # ten more waiting in vLLM than the threshold allows
    scheduler.engine_sampled()
    assert scheduler.engine_cap == 30
    polled.found = -100  # other clients fill the engine: at least one request keeps going
    scheduler.engine_sampled()
    assert scheduler.engine_cap == 1


def test_room_in_the_engine_grows_the_cap_back_and_drops_it_when_nothing_waits() -> None:
    polled = Polled()
    scheduler = scheduler_with(polled, in_flight=40)
    polled.found = -20
    scheduler.engine_sampled()
    assert scheduler.engine_cap == 20
    scheduler.queue.push("key", cast(Any, GoneWaiter()), weight=1)  # someone waits
    scheduler.in_flight = 20  # the cap binds
    polled.found = 0  # exactly at the threshold: one more at a time
    scheduler.engine_sampled()
    assert scheduler.engine_cap == 21
    polled.found = 12  # twelve free sequences
    scheduler.in_flight = 21
    scheduler.engine_sampled()
    assert scheduler.engine_cap == 33
    assert len(scheduler.queue) == 0  # the room let it go
    scheduler.in_flight = 10  # nothing waits and the cap holds nothing back: gone
    scheduler.engine_sampled()
    assert scheduler.engine_cap is None


def test_an_engine_that_says_nothing_holds_nothing_back() -> None:
    polled = Polled()
    scheduler = scheduler_with(polled, in_flight=5)
    polled.found = -3
    scheduler.engine_sampled()
    assert scheduler.engine_cap == 2
    polled.found = None  # stale or unreachable /metrics
    scheduler.engine_sampled()
    assert scheduler.engine_cap is None


def test_each_gateway_worker_takes_its_share_of_the_configured_cap() -> None:
    settings = SchedulingSettings(max_in_flight=10)
    assert Scheduler(settings, workers=1).cap == 10
    assert Scheduler(settings, workers=3).cap == 4  # rounded up: the engine is never starved
    assert Scheduler(SchedulingSettings(), workers=3).cap is None
