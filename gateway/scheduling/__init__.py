"""Fair sharing of the engines: per-key queues in the gateway, tier weights and vLLM priorities.

    admit(request) -> tier (key's, lowered by `x-tollgate-tier`) -> engines busy? (in-flight cap,
                      engine waiting queue / KV cache, polled) -> wait in the key's queue, served
                      by weighted deficit round robin -> Ticket(priority rewrite, release)

See docs/scheduling.md. `SchedulingPlugin(settings)` wires it into the gateway app.
"""

from gateway.scheduling.fair_queue import FairQueue, QueueFull
from gateway.scheduling.plugin import SchedulingPlugin
from gateway.scheduling.scheduler import Scheduler

__all__ = ["FairQueue", "QueueFull", "Scheduler", "SchedulingPlugin"]
