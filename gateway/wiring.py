"""The gateway's parts, built once, in order, from settings: the composition root.

    build_parts(settings)   metrics -> router (engines, models) -> database -> keys
                            -> limits (+ the failed-authentication throttle) -> teams
                            -> fair queue -> ledger -> the proxy's pipeline -> the proxy
    proxy_pipeline(parts)   the admission stages and the observers, written down once

Every part is a typed object handed to whoever needs it through its constructor; nothing is
looked up by name. `create_app` (gateway/app.py) turns the parts into a Litestar app: each
plugin is the glue (routes, lifespan) of one area, given its parts.

Tests and benchmarks change what is built through `StandIns` (a fixed key table in place of
the key database, an in-process engine, extra pipeline stages), never by reaching into app
state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import httpx
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from litestar.types import ControllerRouterHandler
from redis.asyncio import ConnectionPool

from gateway.admin.guards import AdminAuth, AdminGuard, admin_guard
from gateway.background import PeriodicRefresh
from gateway.db.engine import redact_url
from gateway.db.session import Database, database_at
from gateway.keys.admin_token import resolve_admin_token
from gateway.keys.dependencies import Authenticate, KeyAuthentication
from gateway.keys.invalidation import KeyInvalidation
from gateway.keys.service import KeyService
from gateway.keys.store import KeyStore
from gateway.limits.admission import Limiter
from gateway.limits.auth_throttle import AuthThrottle, parse_rate
from gateway.limits.backend import LimitBackend
from gateway.limits.memory import MemoryBackend
from gateway.limits.metrics import LimiterMetrics, default_metrics
from gateway.limits.plugin import default_limits
from gateway.limits.policy import LimitPolicy
from gateway.limits.redis_backend import RedisBackend, create_pool
from gateway.limits.team_cache import TeamLimitsCache
from gateway.limits.teams import TeamService, load_team_limits
from gateway.metrics.recorder import LedgerMetrics, MetricsRecorder
from gateway.metrics.registry import GatewayMetrics
from gateway.observability.middleware import AccessLog, RequestContext, RequestListener
from gateway.proxy.engine_state import EngineStateSampler
from gateway.proxy.hooks import Admission, Observer, ProxyPipeline, Stage
from gateway.proxy.service import ProxyService
from gateway.routing.router import ModelRouter, build_router
from gateway.routing.teams import TeamModelsCache
from gateway.scheduling.plugin import build_scheduler
from gateway.scheduling.scheduler import Scheduler
from gateway.usage.service import UsageService
from gateway.usage.writer import LedgerWriter
from shared.logging import get_logger
from shared.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

_log = get_logger("gateway")
F = TypeVar("F", bound=Callable[..., object])
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class StandIns:
    """What a test or a benchmark puts in place of what settings would build."""

    # A fixed key table in place of the key database: the app then has no database (no
    # ledger, no stored teams, no key administration).
    keys: Authenticate | None = None
    upstream_transport: httpx.AsyncBaseTransport | None = None  # an in-process engine
    span_exporter: SpanExporter | None = None  # where tracing's spans go
    first_prune_delay_s: float | None = None  # when the ledger's retention first runs
    # Run after the gateway's own stages / request listeners, in this order.
    admissions: Sequence[Stage[Admission]] = ()
    observers: Sequence[Stage[Observer]] = ()
    request_listeners: Sequence[RequestListener] = ()
    route_handlers: Sequence[ControllerRouterHandler] = ()


@dataclass(frozen=True, slots=True)
class KeyParts:
    """The keys in the database: the hot path's store, the admin service, the Redis
    subscription that hears about changes made elsewhere."""

    store: KeyStore
    service: KeyService
    invalidation: KeyInvalidation | None


@dataclass(frozen=True, slots=True)
class TeamParts:
    service: TeamService
    caches: tuple[PeriodicRefresh, ...]  # team limits, team model lists


@dataclass(frozen=True, slots=True)
class LedgerParts:
    writer: LedgerWriter
    service: UsageService


@dataclass(frozen=True, kw_only=True)
class GatewayParts:
    """Every part of one gateway app. `database`, `keys`, `teams` and `ledger` are None in an
    app with stand-in keys; `scheduler` when fair queueing is off; `ledger` also when the
    usage ledger is off."""

    settings: Settings
    stand_ins: StandIns
    metrics: GatewayMetrics
    recorder: MetricsRecorder
    router: ModelRouter
    database: Database | None
    keys: KeyParts | None
    authenticate: Authenticate
    admin: AdminGuard
    throttle: AuthThrottle | None
    limiter: Limiter
    redis_pool: ConnectionPool | None  # the limiter's and the throttle's
    teams: TeamParts | None
    scheduler: Scheduler | None
    ledger: LedgerParts | None
    pipeline: ProxyPipeline
    proxy: ProxyService
    sampler: EngineStateSampler
    request_context: RequestContext


def build_parts(settings: Settings, stand_ins: StandIns | None = None) -> GatewayParts:
    """Every part, in the order they depend on each other."""
    stand_ins = stand_ins or StandIns()
    metrics = GatewayMetrics()
    router = build_router(settings)  # the engines, their models, aliases, who may use what
    recorder = MetricsRecorder(metrics, router.pool)
    database = _database(settings) if stand_ins.keys is None else None
    limiter, throttle, redis_pool = build_limits(settings, default_metrics())
    keys = build_keys(settings, database) if database is not None else None
    authenticate = (
        KeyAuthentication(keys.store, throttle).principal if keys is not None else stand_ins.keys
    )
    assert authenticate is not None  # stand-in keys, or keys in the database
    admin = admin_guard(_admin_auth(settings), throttle)
    teams = _teams(settings, database, limiter, router) if database is not None else None
    scheduler = build_scheduler(settings) if settings.scheduling.enabled else None
    ledger = (
        LedgerParts(
            LedgerWriter(settings.usage, sink=LedgerMetrics(metrics)),
            UsageService(database.sessions),
        )
        if database is not None and settings.usage.enabled
        else None
    )
    pipeline = proxy_pipeline(
        limiter=limiter,
        scheduler=scheduler,
        recorder=recorder,
        ledger=ledger.writer if ledger is not None else None,
        stand_ins=stand_ins,
    )
    proxy = ProxyService(
        settings.gateway, router.pool, router, pipeline, transport=stand_ins.upstream_transport
    )
    return GatewayParts(
        settings=settings,
        stand_ins=stand_ins,
        metrics=metrics,
        recorder=recorder,
        router=router,
        database=database,
        keys=keys,
        authenticate=authenticate,
        admin=admin,
        throttle=throttle,
        limiter=limiter,
        redis_pool=redis_pool,
        teams=teams,
        scheduler=scheduler,
        ledger=ledger,
        pipeline=pipeline,
        proxy=proxy,
        sampler=EngineStateSampler(router.pool, lambda: proxy.client, proxy.engine_headers),
        request_context=RequestContext(
            AccessLog(), [recorder.http_finished, *stand_ins.request_listeners]
        ),
    )


def proxy_pipeline(
    *,
    limiter: Limiter,
    scheduler: Scheduler | None,
    recorder: MetricsRecorder,
    ledger: LedgerWriter | None,
    stand_ins: StandIns,
) -> ProxyPipeline:
    """The proxy's stages, in the order they run (request -> auth -> limits -> queue ->
    upstream -> usage). Admissions run in this order before the engine is called; the releases
    of their tickets run in reverse once the request is over. Observers run in this order."""
    admissions: list[tuple[str, Admission | None]] = [
        # A request the limits refuse never takes a place in the queue.
        ("limits", limiter.admit),
        ("fair_queue", scheduler.admit if scheduler is not None else None),
        # Counted in flight only once admitted, until its end.
        ("in_flight_metric", recorder.admit),
    ]
    observers: list[tuple[str, Observer | None]] = [
        ("metrics", recorder.observe),
        ("ledger", ledger.record if ledger is not None else None),
    ]
    return ProxyPipeline(
        [*_present(admissions), *stand_ins.admissions],
        [*_present(observers), *stand_ins.observers],
    )


def _present(stages: list[tuple[str, F | None]]) -> list[Stage[F]]:
    return [Stage(name, run) for name, run in stages if run is not None]


# -- the parts, one builder each ------------------------------------------------------------


def _database(settings: Settings) -> Database:
    url = settings.resolved_database_url
    try:
        return database_at(url)
    except ValueError as exc:  # DatabaseConfigError: a URL that cannot be used
        _log.error("cannot open the database", url=redact_url(url), error=str(exc))
        raise


def build_keys(settings: Settings, database: Database) -> KeyParts:
    store = KeyStore(
        database.sessions,
        cache_ttl_s=settings.keys.cache_ttl_s,
        flush_interval_s=settings.keys.last_used_flush_s,
    )
    invalidation: KeyInvalidation | None = None
    if settings.redis_url:
        # Changes made on any gateway (or the CLI) reach this one's cache at once.
        invalidation = KeyInvalidation(
            settings.redis_url,
            settings.keys.invalidation_channel,
            evict=store.evict,
            clear=store.clear,
        )

    async def changed(key_id: str) -> None:
        store.evict(key_id)
        if invalidation is not None:
            await invalidation.publish(key_id)

    return KeyParts(store, KeyService(database.sessions, on_change=changed), invalidation)


def _admin_auth(settings: Settings) -> AdminAuth:
    admin = AdminAuth(resolve_admin_token(settings))
    if not admin.enabled:
        _log.warning("admin API disabled: set TOLLGATE_ADMIN_TOKEN to enable it")
    return admin


def build_limits(
    settings: Settings, metrics: LimiterMetrics, backend: LimitBackend | None = None
) -> tuple[Limiter, AuthThrottle | None, ConnectionPool | None]:
    """The limiter, the failed-authentication throttle and the Redis pool they share (None
    without `TOLLGATE_REDIS_URL`: counters in this process)."""
    limits = settings.limits
    pool: ConnectionPool | None = None
    if backend is None:
        if settings.redis_url:
            pool = create_pool(settings.redis_url, limits.redis_timeout_s)
            backend = RedisBackend(
                pool, timeout_s=limits.redis_timeout_s, lease_s=limits.concurrency_lease_s
            )
        else:
            backend = MemoryBackend()
    limiter = Limiter(limits, backend, LimitPolicy(default_limits(limits)), metrics)
    throttle: AuthThrottle | None = None
    if limits.auth_failures_per_ip:
        storage: Storage = MemoryStorage()
        if pool is not None and settings.redis_url:
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=f"{limits.redis_prefix}auth",
                wrap_exceptions=True,
                connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
            )
        throttle = AuthThrottle(parse_rate(limits.auth_failures_per_ip), storage, metrics)
    return limiter, throttle, pool


def _teams(
    settings: Settings, database: Database, limiter: Limiter, router: ModelRouter
) -> TeamParts:
    refresh_s = settings.keys.cache_ttl_s
    limits = TeamLimitsCache(_loader(load_team_limits, database), refresh_s)
    models = TeamModelsCache(database.sessions, refresh_s)
    limiter.policy.teams = limits
    router.access.stored_teams = models
    return TeamParts(TeamService(database.sessions, on_change=limits.refresh), (limits, models))


def _loader(load: Callable[..., T], database: Database) -> Callable[[], T]:
    return lambda: load(database.sessions)
