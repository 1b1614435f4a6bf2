"""CPU time routing adds to one request, in process (no network): resolve the model (alias,
key and team lists), then order the engines that serve it. Not a test; run it by hand:

    .venv/bin/python -m tests.gateway.routing.measure_routing_cost
"""

from __future__ import annotations

import time
import timeit

from gateway.keys.principal import KeyPrincipal
from gateway.routing import build_router
from shared.settings import RoutingSettings, Settings

ROUNDS = 200_000


def main() -> None:
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
    for label, (principal, model) in cases.items():

        def route(p: KeyPrincipal = principal, m: str = model) -> None:
            router.candidates(router.resolve(p, m))

        took = timeit.timeit(route, number=ROUNDS)
        print(f"4 engines, {label}: {took / ROUNDS * 1e6:.2f} µs per request")


if __name__ == "__main__":
    main()
