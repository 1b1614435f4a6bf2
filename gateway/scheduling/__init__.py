"""Fair sharing of the engines: per-key queues in the gateway, tier weights and vLLM priorities.

    admit(request) -> tier (key's, lowered by `x-tollgate-tier`) -> engines busy? (in-flight cap,
                      engine waiting queue / KV cache, polled) -> wait in the key's queue, served
                      by weighted deficit round robin -> Ticket(priority rewrite, release)

See docs/scheduling.md. `build_scheduler(settings)` makes the scheduler, `SchedulingPlugin` its
lifespan (gateway/wiring.py uses both).
"""

from gateway.scheduling.fair_queue import FairQueue, QueueFull
from gateway.scheduling.plugin import SchedulingPlugin, build_scheduler
from gateway.scheduling.scheduler import Scheduler

__all__ = ["FairQueue", "QueueFull", "Scheduler", "SchedulingPlugin", "build_scheduler"]
