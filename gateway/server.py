"""Serving the gateway: uvicorn with uvloop and httptools, one process or several workers."""

from __future__ import annotations

import os

import uvicorn

from gateway.http_protocol import guarded_protocol
from shared.settings import Settings

# Longer than the usual 60 s idle timeout of load balancers, so they close first, and longer
# than SDK pools keep connections (an SDK reusing a connection we just closed sees an error).
_KEEP_ALIVE_S = 65
_GRACEFUL_SHUTDOWN_S = 25  # streams in flight get this long to finish on SIGTERM


def uvicorn_options(settings: Settings) -> dict[str, object]:
    gateway = settings.gateway
    return {
        "host": gateway.host,
        "port": gateway.port,
        "loop": "uvloop",
        # httptools with a read deadline per request and OpenAI-shaped parser errors.
        "http": guarded_protocol(gateway.request_read_timeout_s),
        "lifespan": "on",
        "access_log": False,  # the gateway writes its own line per request
        "log_config": None,  # logging is shared/logging.py's
        # The client's address from X-Forwarded-For only when it comes from a trusted balancer
        # (per-address auth limits would otherwise see the balancer); off by default.
        "proxy_headers": bool(gateway.trusted_proxies.strip()),
        "forwarded_allow_ips": gateway.trusted_proxies.strip() or None,
        "server_header": False,
        "timeout_keep_alive": _KEEP_ALIVE_S,
        "timeout_graceful_shutdown": _GRACEFUL_SHUTDOWN_S,
    }


def run_gateway(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM. Several workers each build the app from the environment,
    so settings given as flags are passed on through it."""
    options = uvicorn_options(settings)
    if settings.gateway.workers == 1:
        from gateway.app import create_app

        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    os.environ["TOLLGATE_UPSTREAMS"] = ",".join(settings.upstreams)
    os.environ["TOLLGATE_LOG_FORMAT"] = settings.log_format
    os.environ["TOLLGATE_LOG_LEVEL"] = settings.log_level
    # Each worker takes its share of the fair queue's in-flight cap (gateway/scheduling).
    os.environ["TOLLGATE_GATEWAY__WORKERS"] = str(settings.gateway.workers)
    from gateway.metrics.multiprocess import multiprocess_directory

    # Each worker keeps its metrics in files there and /metrics adds them up (gateway/metrics).
    with multiprocess_directory():
        uvicorn.run(
            "gateway.app:create_app_from_env",
            factory=True,
            workers=settings.gateway.workers,
            **options,  # type: ignore[arg-type]
        )
