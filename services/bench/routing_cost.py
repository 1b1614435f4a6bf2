"""`tollgate bench routing`: the CPU time routing adds to one request, in process (no
network): resolve the model (alias, key and team lists), then order the engines that serve it.
"""

from __future__ import annotations

import time
import timeit

from gateway.keys.principal import KeyPrincipal
from gateway.routing import build_router
from shared.settings import RoutingSettings, Settings

ROUNDS = 200_000


def measure_routing_cost(rounds: int = ROUNDS) -> dict[str, float]:
    """Microseconds per request for each case, over four engines, the mean of `rounds` calls."""
    settings = Settings(
        upstreams=[f"http://engine-{i}:8000" for i in range(4)],
        routing=RoutingSettings(
            aliases={"team-default": "model-1"}, team_models={"ml": ["team-default", "model-0"]}
        ),
    )
    router = build_router(settings)
    for i, upstream in enumerate(router.pool.upstreams):  # as the health monitor leaves them
        upstream.models = (f"model-{i % 2}", "some-lora")
        upstream.model_cards = tuple({"id": m} for m in upstream.models)
        upstream.models_at = time.monotonic()
    router.pool.models_version += 1
    limited = KeyPrincipal(
        id="k1", name="a", prefix="tg-a", team="ml", allowed_models=("team-default",)
    )
    free = KeyPrincipal(id="k2", name="b", prefix="tg-b")
    cases = {
        "alias, key and team lists": (limited, "team-default"),
        "plain model, no lists": (free, "model-0"),
    }
    took_us: dict[str, float] = {}
    for label, (principal, model) in cases.items():

        def route(p: KeyPrincipal = principal, m: str = model) -> None:
            router.candidates(router.resolve(p, m))

        took_us[label] = timeit.timeit(route, number=rounds) / rounds * 1e6
    return took_us
