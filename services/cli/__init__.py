"""The `tollgate` command. Each part registers its commands here; heavy imports stay lazy so
`tollgate --help` answers at once."""

from __future__ import annotations

import typer

from services.cli import bench, config, engine, gateway, keys, stack, teams, ui, usage

app = typer.Typer(
    name="tollgate",
    help="A team's own LLM endpoint: vLLM engine, keyed OpenAI-compatible gateway, chat UI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
engine.register(app)
gateway.register(app)
bench.register(app)
stack.register(app)
config.register(app)
keys.register(app)
teams.register(app)
ui.register(app)
usage.register(app)


def main() -> None:
    app()
