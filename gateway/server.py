"""Serving the gateway: uvicorn with uvloop and httptools, one process or several workers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import uvicorn

from gateway.http_protocol import guarded_protocol
from shared.settings import Settings
from shared.threaded_server import bind, serving_in_thread

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


@contextlib.contextmanager
def serving_app_in_thread(
    app: Any, *, start_timeout_s: float = 10.0, stop_timeout_s: float = 5.0
) -> Iterator[str]:
    """`app` (a built gateway) with the production uvicorn options on a free loopback port, in
    a background thread; yields its base URL. For benchmarks and tests in one process."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    options = uvicorn_options(Settings())
    options.update(host="127.0.0.1", port=port, timeout_graceful_shutdown=1)
    server = uvicorn.Server(uvicorn.Config(app, **options))  # type: ignore[arg-type]
    with serving_in_thread(
        server,
        sock,
        name=f"gateway-{port}",
        start_timeout_s=start_timeout_s,
        stop_timeout_s=stop_timeout_s,
    ):
        yield f"http://127.0.0.1:{port}"


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
