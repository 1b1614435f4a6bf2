"""Several engines behind one gateway: which engine serves a request, and who may ask for what.

config.py    the engines (TOLLGATE_UPSTREAMS or a YAML file), aliases, team model lists
catalog.py   which engine serves which model (from each engine's /v1/models), aliases resolved
access.py    the models a key, and its team, may use (403 otherwise)
teams.py     teams' model lists from the database, cached and reloaded in the background
balancer.py  healthy engines first, fewest outstanding requests first
router.py    the facade the proxy calls: resolve a model, order candidates, list models
body.py      an alias in a request body rewritten to the engine's model name

Everything here answers from memory: the background health monitor (gateway/proxy/upstreams.py)
keeps each engine's health and model list fresh, so the per-request cost is a few dict lookups.
"""

from gateway.routing.access import ModelAccess
from gateway.routing.balancer import LeastOutstandingBalancer
from gateway.routing.catalog import ModelCatalog
from gateway.routing.config import RoutingConfig, UpstreamSpec, load_routing_config
from gateway.routing.router import ModelRouter, build_router

__all__ = [
    "LeastOutstandingBalancer",
    "ModelAccess",
    "ModelCatalog",
    "ModelRouter",
    "RoutingConfig",
    "UpstreamSpec",
    "build_router",
    "load_routing_config",
]
