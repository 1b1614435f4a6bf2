"""What the proxy asks about a request's model: may the key use it, which engine model is it,
which engines to try, in which order; and `/v1/models` for several engines.

Errors are OpenAI's: 403 `model_not_allowed` (key or team list), 404 `model_not_found` (no
engine lists it), 503 when the engines that serve it are all unreachable (raised by the proxy).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import NotFound, PermissionDenied
from gateway.keys.principal import KeyPrincipal
from gateway.proxy.upstreams import Upstream, UpstreamPool
from gateway.routing.access import ModelAccess
from gateway.routing.balancer import LeastOutstandingBalancer
from gateway.routing.catalog import ModelCatalog
from gateway.routing.config import RoutingConfig, load_routing_config
from shared.settings import Settings


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class ModelRouter:
    """Implements the proxy's `UpstreamSelector`."""

    def __init__(
        self,
        pool: UpstreamPool,
        catalog: ModelCatalog,
        access: ModelAccess,
        balancer: LeastOutstandingBalancer,
    ) -> None:
        self.pool = pool
        self.catalog = catalog
        self.access = access
        self.balancer = balancer
        # One engine and no aliases: an unknown model gets the engine's own 404 (as without
        # the gateway), and /v1/models is the engine's own, filtered (unless teams have lists).
        self._routes = len(pool) > 1 or bool(catalog.aliases)

    def resolve(self, principal: KeyPrincipal, model: str) -> str:
        """The engine model to send, after the key's and team's checks (403) and a 404 for a
        model no engine serves."""
        if not self.access.may_use(principal, model):
            raise PermissionDenied(
                f"This API key may not use the model '{model}'.",
                param="model",
                code="model_not_allowed",
            )
        target = self.catalog.engine_model(model)
        if self._routes and self.catalog.is_unknown(target):
            raise ModelNotFound(
                f"The model '{model}' does not exist. GET /v1/models lists the models you may use.",
                param="model",
            )
        return target

    def candidates(self, model: str | None) -> Sequence[Upstream]:
        """Engines to try for `model` (an engine model, aliases resolved), best first."""
        found = (model is not None and self.catalog.upstreams_for(model)) or (
            self.catalog.upstreams_any()  # no model, or none lists it: the engines decide
        )
        return self.balancer.order(found)

    def models_document(self, principal: KeyPrincipal) -> bytes | None:
        """`/v1/models` answered by the gateway (several engines, aliases); None = ask the engine."""
        if not (self._routes or self.access.restricts_teams):
            return None
        return self.catalog.models_document(lambda model: self.access.may_use(principal, model))


def build_router(settings: Settings, config: RoutingConfig | None = None) -> ModelRouter:
    config = config or load_routing_config(settings)
    pool = UpstreamPool(
        [u.url for u in config.upstreams],
        names=[u.name for u in config.upstreams],
        models_refresh_s=config.models_refresh_s,
    )
    return ModelRouter(
        pool,
        ModelCatalog(pool, config.aliases),
        ModelAccess(config.aliases, config.team_models),
        LeastOutstandingBalancer(),
    )
