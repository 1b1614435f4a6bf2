"""The order in which engines are tried: healthy before down, fewest outstanding requests first.

Outstanding requests are this gateway process's own count (`Upstream.in_flight`, kept by the
proxy's exchange): no network call per request, and with several gateways each one spreads its
own share. Ties rotate, so an idle gateway still spreads requests round-robin. Engines marked
down stay at the end of the list: when every engine is down a connection attempt is cheap, and
the health state may be a few seconds stale.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from gateway.proxy.upstreams import Upstream


class LeastOutstandingBalancer:
    def __init__(self) -> None:
        self._turn = itertools.count()

    def order(self, upstreams: Sequence[Upstream]) -> Sequence[Upstream]:
        count = len(upstreams)
        if count <= 1:
            return upstreams
        turn = next(self._turn) % count
        ranked = sorted(
            range(count),
            key=lambda i: (not upstreams[i].healthy, upstreams[i].in_flight, (i - turn) % count),
        )
        return [upstreams[i] for i in ranked]
