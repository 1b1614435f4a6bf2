"""The `--model-limit MODEL:rpm=N,tpm=N` flag shared by `tollgate keys` and `tollgate teams`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import typer

from services.cli.common import fail

if TYPE_CHECKING:
    from pydantic import BaseModel

_KINDS = {
    "rpm": "rpm",
    "tpm": "tpm",
    "max-concurrency": "max_concurrency",
    "max_concurrency": "max_concurrency",
    "concurrency": "max_concurrency",
    "daily-tokens": "daily_tokens",
    "daily_tokens": "daily_tokens",
    "monthly-tokens": "monthly_tokens",
    "monthly_tokens": "monthly_tokens",
}

MODEL_LIMIT = typer.Option(
    None,
    "--model-limit",
    metavar="MODEL:KIND=N,…",
    help="limits for one model in place of the general ones, e.g. "
    "'small-model:tpm=100000,rpm=600' (kinds: rpm, tpm, max-concurrency, daily-tokens, "
    "monthly-tokens); repeat for more models; replaces all per-model limits",
)


def parse_model_limits(values: list[str]) -> dict[str, dict[str, int]]:
    """`["m:rpm=5,tpm=100"]` -> `{"m": {"rpm": 5, "tpm": 100}}`; a bad value exits with a
    message naming the flag. The last ':' splits (model names may contain ':')."""
    parsed: dict[str, dict[str, int]] = {}
    for value in values:
        model, sep, spec = value.rpartition(":")
        model = model.strip()
        if not sep or not model or not spec.strip():
            fail(f"--model-limit {value!r}: expected MODEL:KIND=N[,KIND=N…], e.g. m:tpm=1000")
        limits: dict[str, int] = {}
        for part in spec.split(","):
            name, eq, number = part.partition("=")
            kind = _KINDS.get(name.strip().lower())
            if kind is None or not eq:
                fail(
                    f"--model-limit {value!r}: unknown limit {name.strip()!r}; use rpm, tpm, "
                    "max-concurrency, daily-tokens or monthly-tokens"
                )
            try:
                limits[kind] = int(number.strip())
            except ValueError:
                fail(f"--model-limit {value!r}: {number.strip()!r} is not a whole number")
        parsed[model] = limits
    return parsed


def limits_text(limits: BaseModel) -> str:
    """`rpm=5 tpm=100`: the limits that are set; empty when none is."""
    given = {k: v for k, v in limits.model_dump().items() if v is not None}
    return " ".join(f"{k}={v}" for k, v in given.items())


def model_limits_text(model_limits: Mapping[str, BaseModel] | None) -> str:
    """`m: rpm=5 tpm=100; n: tpm=9` for tables; "-" when there are none."""
    if not model_limits:
        return "-"
    return "; ".join(f"{model}: {limits_text(limits)}" for model, limits in model_limits.items())
