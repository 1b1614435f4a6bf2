"""Where the engines are and what the friendly names mean, from settings or a YAML file.

`TOLLGATE_UPSTREAMS` (comma-separated URLs) is enough for a few engines. A team with many
keeps them in a file (`TOLLGATE_ROUTING__UPSTREAMS_FILE`):

    upstreams:
      - url: http://gpu-node-1:8000
        name: node1            # optional; shown in logs, metrics and /tollgate/engine
      - url: http://gpu-node-2:8000
    aliases:
      team-default: merged_qwen3_finetuned
    team_models:
      ml: [team-default, merged_qwen3_finetuned]

The file's engines replace TOLLGATE_UPSTREAMS; aliases and team lists from settings are merged
over the file's (settings win). Engines' models are never listed here: each engine is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.settings import Settings


class RoutingConfigError(ValueError):
    """The routing file or settings are unusable; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    url: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    upstreams: tuple[UpstreamSpec, ...]
    aliases: Mapping[str, str]
    team_models: Mapping[str, frozenset[str]]
    models_refresh_s: float


class _FileUpstream(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=100)


class _RoutingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upstreams: list[_FileUpstream] = Field(min_length=1)
    aliases: dict[str, str] = Field(default_factory=dict)
    team_models: dict[str, list[str]] = Field(default_factory=dict)


def _read_file(path: Path) -> _RoutingFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutingConfigError(f"cannot read the upstreams file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"the upstreams file {path} is not valid YAML: {exc}") from None
    try:
        return _RoutingFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RoutingConfigError(f"upstreams file {path}: {where}: {first['msg']}") from None


def load_routing_config(settings: Settings) -> RoutingConfig:
    routing = settings.routing
    aliases: dict[str, str] = {}
    team_models: dict[str, list[str]] = {}
    if routing.upstreams_file is not None:
        spec = _read_file(routing.upstreams_file)
        upstreams = tuple(UpstreamSpec(u.url.rstrip("/"), u.name) for u in spec.upstreams)
        aliases.update(spec.aliases)
        team_models.update(spec.team_models)
    else:
        upstreams = tuple(UpstreamSpec(url) for url in settings.upstreams)
    aliases.update(routing.aliases)
    team_models.update(routing.team_models)
    for alias, target in aliases.items():
        if target in aliases:
            # One hop only: a chain would make "which engine model is this" depend on order.
            raise RoutingConfigError(f"alias {alias!r} points at another alias ({target!r})")
    names = [u.name for u in upstreams if u.name]
    if len(names) != len(set(names)):
        raise RoutingConfigError("two upstreams have the same name")
    return RoutingConfig(
        upstreams=upstreams,
        aliases=MappingProxyType(aliases),
        team_models=MappingProxyType({t: frozenset(m) for t, m in team_models.items()}),
        models_refresh_s=routing.models_refresh_s,
    )
