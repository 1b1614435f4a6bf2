"""`tollgate keys create|list|show|update|revoke`: manage API keys straight on the database
(migrated first), so keys can be made before the gateway ever runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from services.cli.common import (
    err_console,
    fail,
    out_console,
    print_json,
    print_json_list,
    run_on_database,
    settings_from_env,
)
from services.cli.limit_flags import (
    MODEL_LIMIT,
    limits_text,
    model_limits_text,
    parse_model_limits,
)

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from gateway.keys.service import KeyService
    from shared.schemas.keys import KeyInfo

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")

keys_app = typer.Typer(
    help="Create, list, update and revoke API keys (on the database; the gateway need not run).",
    no_args_is_help=True,
)


class TierChoice(StrEnum):
    interactive = "interactive"
    standard = "standard"
    batch = "batch"


# Request field -> the flag that sets it, so validation errors name what the user typed.
_FLAGS = {
    "name": "--name",
    "team": "--team",
    "tier": "--tier",
    "models": "--models",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "max_concurrency": "--max-concurrency",
    "daily_tokens": "--daily-tokens",
    "monthly_tokens": "--monthly-tokens",
    "model_limits": "--model-limit",
    "expires_in_days": "--expires-in",
}
# What `update --clear X` resets to "none" (no team, every model, no limit, never expires).
_CLEARABLE = {
    "team": "team",
    "models": "models",
    "rpm": "rpm",
    "tpm": "tpm",
    "max-concurrency": "max_concurrency",
    "daily-tokens": "daily_tokens",
    "monthly-tokens": "monthly_tokens",
    "model-limits": "model_limits",
    "expiry": "expires_at",
}

ClearChoice = StrEnum("ClearChoice", [(name, name) for name in _CLEARABLE])  # type: ignore[misc]


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


# -- options shared by create and update ---------------------------------------------------

_TEAM = typer.Option(None, "--team", help="team the key belongs to")
_TIER = typer.Option(None, "--tier", help="scheduling tier (default: standard)")
_RPM = typer.Option(None, "--rpm", help="requests per minute")
_TPM = typer.Option(None, "--tpm", help="tokens per minute (prompt + completion)")
_CONCURRENCY = typer.Option(None, "--max-concurrency", help="requests in flight at once")
_DAILY = typer.Option(None, "--daily-tokens", help="token budget per day")
_MONTHLY = typer.Option(None, "--monthly-tokens", help="token budget per month")
_MODELS = typer.Option(None, "--models", help="comma-separated models the key may use")
_EXPIRES = typer.Option(None, "--expires-in", help="days until the key expires")
_JSON = typer.Option(False, "--json", help="print JSON for scripts")


def _given(**fields: Any) -> dict[str, Any]:
    """The flags the user gave, as request fields (`--models a,b` -> a list)."""
    data = {name: value for name, value in fields.items() if value is not None}
    if "models" in data:
        data["models"] = [part.strip() for part in data["models"].split(",") if part.strip()]
    if "expires_in" in data:
        data["expires_in_days"] = data.pop("expires_in")
    return data


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{_FLAGS.get(field, field)}: {message}" if field else message)
    return "; ".join(lines)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fail(_explain(exc))


def _run(action: Callable[[KeyService], Awaitable[T]]) -> T:
    """Run one KeyService call on the database from settings; with TOLLGATE_REDIS_URL set, a
    changed or revoked key is announced to the running gateways (they drop it from cache)."""
    from gateway.keys.invalidation import change_announcer
    from gateway.keys.service import KeyService

    settings = settings_from_env()
    announce = change_announcer(settings.redis_url, settings.keys.invalidation_channel)
    return run_on_database(
        lambda sessions: KeyService(sessions, on_change=announce),
        action,
        not_found_hint="`tollgate keys list` shows every key's id",
    )


# -- output ----------------------------------------------------------------------------------


def _when(value: datetime | None, none: str = "-") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else none


def _day(value: datetime | None, none: str) -> str:
    return value.strftime("%Y-%m-%d") if value else none


def _status(info: KeyInfo) -> str:
    if info.revoked:
        return "[red]revoked[/]"
    if info.expires_at is not None and info.expires_at <= datetime.now(info.expires_at.tzinfo):
        return "[yellow]expired[/]"
    return "[green]active[/]"


def _limits(info: KeyInfo) -> str:
    return limits_text(info.limits) or "unlimited"


def _models(info: KeyInfo) -> str:
    return ", ".join(info.allowed_models) if info.allowed_models is not None else "all"


def _details(info: KeyInfo) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("id", info.id),
        ("name", info.name),
        ("team", info.team or "-"),
        ("prefix", f"{info.prefix}…"),
        ("tier", info.tier),
        ("models", _models(info)),
        ("limits", _limits(info)),
        ("model limits", model_limits_text(info.model_limits)),
        ("created", _when(info.created_at)),
        ("last used", _when(info.last_used_at, "never")),
        ("expires", _when(info.expires_at, "never")),
        ("status", _status(info)),
    ]
    if info.revoked_at:
        rows.append(("revoked at", _when(info.revoked_at)))
    for label, value in rows:
        table.add_row(label, value)
    return table


def _show(info: KeyInfo, as_json: bool) -> None:
    if as_json:
        print_json(info.model_dump(mode="json"))
    else:
        out_console.print(_details(info))


# -- commands --------------------------------------------------------------------------------


@keys_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="who or what the key is for"),
    team: str | None = _TEAM,
    tier: TierChoice | None = _TIER,
    rpm: int | None = _RPM,
    tpm: int | None = _TPM,
    max_concurrency: int | None = _CONCURRENCY,
    daily_tokens: int | None = _DAILY,
    monthly_tokens: int | None = _MONTHLY,
    models: str | None = _MODELS,
    model_limit: list[str] | None = MODEL_LIMIT,
    expires_in: float | None = _EXPIRES,
    as_json: bool = _JSON,
) -> None:
    """Create a key and print it (once: only its hash is stored)."""
    from shared.schemas.keys import KeyCreate

    spec = _validated(
        KeyCreate,
        _given(
            name=name,
            team=team,
            tier=tier.value if tier else None,
            rpm=rpm,
            tpm=tpm,
            max_concurrency=max_concurrency,
            daily_tokens=daily_tokens,
            monthly_tokens=monthly_tokens,
            models=models,
            model_limits=parse_model_limits(model_limit) if model_limit else None,
            expires_in=expires_in,
        ),
    )
    created = _run(lambda keys: keys.create(spec))
    if as_json:
        print_json(created.model_dump(mode="json"))
        return
    err_console.print(_details(created))
    err_console.print("[bold yellow]Store this key now: it cannot be shown again.[/]")
    # The key alone on stdout, so `KEY=$(tollgate keys create --name x)` works.
    typer.echo(created.key)


@keys_app.command("list")
def list_keys(
    team: str | None = typer.Option(None, "--team", help="only this team's keys"),
    active: bool = typer.Option(False, "--active", help="hide revoked keys"),
    as_json: bool = _JSON,
) -> None:
    """List keys (never the keys themselves: id, name, prefix, limits, status)."""
    infos = _run(lambda keys: keys.list(team=team, revoked=False if active else None))
    if as_json:
        print_json_list(infos)
        return
    if not infos:
        err_console.print("no keys yet: `tollgate keys create --name NAME` makes one")
        return
    table = Table(title=f"{len(infos)} API key{'s' if len(infos) != 1 else ''}")
    table.add_column("id", no_wrap=True)
    for column in ("name", "team", "tier", "models", "limits", "last used", "expires"):
        table.add_column(column, overflow="fold")
    table.add_column("status", no_wrap=True)
    for info in infos:
        table.add_row(
            info.id,
            info.name,
            info.team or "-",
            info.tier,
            _models(info),
            _limits(info),
            _day(info.last_used_at, "never"),
            _day(info.expires_at, "never"),
            _status(info),
        )
    # A pipe or a file has no width; don't squeeze the table into 80 columns there.
    console = out_console if out_console.is_terminal else Console(width=160)
    console.print(table)


@keys_app.command("show")
def show(
    key_id: str = typer.Argument(..., metavar="ID", help="the key's id, key_…"),
    as_json: bool = _JSON,
) -> None:
    """Show one key."""
    _show(_run(lambda keys: keys.get(key_id)), as_json)


@keys_app.command("update")
def update(
    key_id: str = typer.Argument(..., metavar="ID", help="the key's id, key_…"),
    name: str | None = typer.Option(None, "--name", help="new name"),
    team: str | None = _TEAM,
    tier: TierChoice | None = _TIER,
    rpm: int | None = _RPM,
    tpm: int | None = _TPM,
    max_concurrency: int | None = _CONCURRENCY,
    daily_tokens: int | None = _DAILY,
    monthly_tokens: int | None = _MONTHLY,
    models: str | None = _MODELS,
    model_limit: list[str] | None = MODEL_LIMIT,
    expires_in: float | None = _EXPIRES,
    clear: list[ClearChoice] | None = typer.Option(
        None,
        "--clear",
        help="reset to none: no team, every model, no limit, never expires (repeatable)",
    ),
    as_json: bool = _JSON,
) -> None:
    """Change a key's name, team, tier, models, limits or expiry; the rest stays."""
    from shared.schemas.keys import KeyUpdate

    data = _given(
        name=name,
        team=team,
        tier=tier.value if tier else None,
        rpm=rpm,
        tpm=tpm,
        max_concurrency=max_concurrency,
        daily_tokens=daily_tokens,
        monthly_tokens=monthly_tokens,
        models=models,
        model_limits=parse_model_limits(model_limit) if model_limit else None,
        expires_in=expires_in,
    )
    for choice in clear or []:
        flag = choice.value
        field = _CLEARABLE[flag]
        if field in data or (field == "expires_at" and "expires_in_days" in data):
            fail(f"--clear {flag} contradicts the value given for it")
        data[field] = None
    if not data:
        fail("nothing to update: give at least one flag (see `tollgate keys update --help`)")
    spec = _validated(KeyUpdate, data)
    _show(_run(lambda keys: keys.update(key_id, spec)), as_json)


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., metavar="ID", help="the key's id, key_…"),
    as_json: bool = _JSON,
) -> None:
    """Revoke a key. Gateways refuse it within their key cache time (10 s by default)."""
    info = _run(lambda keys: keys.revoke(key_id))
    if as_json:
        print_json(info.model_dump(mode="json"))
    else:
        err_console.print(f"[green]revoked[/] {info.id} ({info.name})", highlight=False)
