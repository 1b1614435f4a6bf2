"""`tollgate gateway`: the keyed, OpenAI-compatible gateway in front of the engines."""

from __future__ import annotations

import typer

from services.cli.common import err_console, fail, settings_from_env
from shared.logging import get_logger, resolve_format


def register(app: typer.Typer) -> None:
    app.command(help="Run the keyed OpenAI-compatible gateway (port 8080).")(gateway)


def gateway(
    host: str | None = typer.Option(None, help="interface to listen on (default: 127.0.0.1)"),
    port: int | None = typer.Option(None, min=1, max=65535, help="port (default: 8080)"),
    upstream: list[str] | None = typer.Option(
        None,
        "--upstream",
        metavar="URL",
        help="engine base URL, e.g. http://127.0.0.1:8000 (repeat for several; "
        "default: TOLLGATE_UPSTREAMS)",
    ),
    workers: int | None = typer.Option(None, min=1, help="worker processes (default: 1)"),
) -> None:
    from gateway.proxy.upstreams import Upstream

    settings = settings_from_env().with_section("gateway", host=host, port=port, workers=workers)
    if upstream:
        settings = settings.model_copy(update={"upstreams": [u.rstrip("/") for u in upstream]})
    if not settings.upstreams:
        fail("no upstream engine: pass --upstream URL or set TOLLGATE_UPSTREAMS")
    from gateway.routing.config import load_routing_config

    try:  # the upstreams file (TOLLGATE_ROUTING__UPSTREAMS_FILE) is checked before start-up
        engines = [spec.url for spec in load_routing_config(settings).upstreams]
        for url in engines:
            Upstream.from_url(url)
    except ValueError as exc:
        fail(str(exc))

    from gateway.server import run_gateway

    g = settings.gateway
    if resolve_format(settings.log_format) == "json":
        # In JSON mode every line on stderr is a log line, the banner too.
        get_logger("tollgate.gateway").info(
            "gateway starting",
            url=f"http://{g.host}:{g.port}/v1",
            upstreams=engines,
            workers=g.workers,
        )
    else:
        err_console.print(
            f"gateway on [bold]http://{g.host}:{g.port}/v1[/] -> {', '.join(engines)}"
            f" ({g.workers} worker{'s' if g.workers > 1 else ''}); docs at /schema",
            highlight=False,
        )
    try:
        run_gateway(settings)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
