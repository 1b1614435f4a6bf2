"""`tollgate config`: what is configured, and what can be."""

from __future__ import annotations

from pathlib import Path

import typer

config_app = typer.Typer(
    help="Show settings and the configuration reference.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("show")
def show() -> None:
    """Print the settings in force (environment, .env, defaults) as JSON; secrets are masked."""
    from services.cli.common import settings_from_env
    from shared.settings_reference import effective

    typer.echo(effective(settings_from_env()))


@config_app.command("reference")
def reference(
    readme: Path | None = typer.Option(
        None, help="rewrite the table between the settings-reference markers of this file"
    ),
) -> None:
    """Print every setting with its environment variable and default, as a Markdown table."""
    from shared.settings_reference import markdown_table, update_markdown

    if readme is None:
        typer.echo(markdown_table())
    else:
        readme.write_text(update_markdown(readme.read_text(encoding="utf-8")), encoding="utf-8")
