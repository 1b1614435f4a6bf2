"""`tollgate ui`: the Gradio web UI (port 7860), which talks only to the gateway."""

from __future__ import annotations

import typer

from services.cli.common import err_console, fail, settings_from_env


def register(app: typer.Typer) -> None:
    app.command(help="Run the web UI (port 7860): sign in with a key, chat, inspect, usage.")(ui)


def ui(
    host: str | None = typer.Option(None, help="interface to listen on (default: 127.0.0.1)"),
    port: int | None = typer.Option(None, min=1, max=65535, help="port (default: 7860)"),
    gateway: str | None = typer.Option(
        None, "--gateway", help="the gateway's base URL (default: http://127.0.0.1:8080)"
    ),
) -> None:
    settings = settings_from_env().with_section(
        "ui", host=host, port=port, gateway_url=gateway.rstrip("/") if gateway else None
    )
    if not settings.ui.gateway_url.startswith(("http://", "https://")):
        fail(f"--gateway must be an http:// or https:// URL, not {settings.ui.gateway_url!r}")

    import uvicorn

    from ui.app import create_app

    app = create_app(settings)
    err_console.print(
        f"UI on http://{settings.ui.host}:{settings.ui.port}/ (gateway {settings.ui.gateway_url})",
        highlight=False,
    )
    try:
        uvicorn.run(
            app,
            host=settings.ui.host,
            port=settings.ui.port,
            log_config=None,  # keep shared.logging's set-up
            timeout_graceful_shutdown=5,  # open event streams must not hold a stop for long
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
