"""Which limits apply to one request: the key's, its team's, the defaults, per-model overrides.

For each kind of limit (rpm, tpm, max_concurrency, daily_tokens, monthly_tokens) a request is
checked against up to two scopes, and must pass both:

- the **key**: the key's per-model override for the requested model if it sets this kind,
  else the key's own value, else the configured default (each key gets its own counter with
  the default capacity; the default is "for keys without their own");
- the **team** (when the key has one and the team has limits): the team's per-model override,
  else the team's own value. Every key of the team draws from the same team counter.

A per-model override has counters of its own: `{"small-model": {"tpm": 100000}}` lets a key
spend 100k tokens a minute on that model without touching its key-wide tpm; kinds the override
does not set still count against the key-wide limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Protocol
from urllib.parse import quote

from gateway.keys.principal import KeyLimits, KeyPrincipal

LimitKind = Literal["rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_tokens"]
KINDS: tuple[LimitKind, ...] = ("rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_tokens")
TOKEN_KINDS: frozenset[LimitKind] = frozenset({"tpm", "daily_tokens", "monthly_tokens"})

UNLIMITED = KeyLimits()
_MAX_RESOLVED = 10_000


@lru_cache(maxsize=4096)
def _part(name: str) -> str:
    # Names may contain ':' (or anything); quoting keeps "team a:m:b" and "team a, model b"
    # from ever sharing a counter.
    return quote(name, safe="")


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose counter: a key or a team, optionally narrowed to one model."""

    level: Literal["key", "team"]
    id: str  # key id or team name
    label: str  # for people: the key's name or the team's name
    model: str | None = None

    @property
    def storage_id(self) -> str:
        base = f"{'k' if self.level == 'key' else 't'}:{_part(self.id)}"
        return base if self.model is None else f"{base}:m:{_part(self.model)}"

    def describe(self) -> str:
        who = f"key '{self.label}' ({self.id})" if self.level == "key" else f"team '{self.label}'"
        return who if self.model is None else f"{who} on model '{self.model}'"


_STORAGE_NAMES: dict[LimitKind, str] = {
    "rpm": "rpm",
    "tpm": "tpm",
    "max_concurrency": "conc",
    "daily_tokens": "day",
    "monthly_tokens": "month",
}


@dataclass(frozen=True, slots=True)
class Limit:
    kind: LimitKind
    scope: Scope
    capacity: int
    default: bool = False  # the configured default, not the key's own value
    storage: str = field(init=False, compare=False)  # the counter's key, without the prefix

    def __post_init__(self) -> None:
        object.__setattr__(self, "storage", f"{_STORAGE_NAMES[self.kind]}:{self.scope.storage_id}")


@dataclass(frozen=True, slots=True)
class TeamLimits:
    """A team's limits as stored (None = no team limit of that kind)."""

    limits: KeyLimits = UNLIMITED
    model_limits: Mapping[str, KeyLimits] | None = None


class TeamLookup(Protocol):
    def get(self, team: str) -> TeamLimits | None: ...


class NoTeams:
    """Team limits when there is no database (tests, a bare proxy)."""

    def get(self, team: str) -> TeamLimits | None:
        return None


def _override(model_limits: Mapping[str, KeyLimits] | None, model: str | None) -> KeyLimits:
    if model is None or not model_limits:
        return UNLIMITED
    return model_limits.get(model, UNLIMITED)


class LimitPolicy:
    def __init__(self, defaults: KeyLimits = UNLIMITED, teams: TeamLookup | None = None) -> None:
        self.defaults = defaults
        self.teams: TeamLookup = teams if teams is not None else NoTeams()
        # (key id, model) -> the answer, and the principal and team limits it came from: reused
        # while both are the same objects (the key and team caches replace them on reload).
        self._resolved: dict[
            tuple[str, str | None], tuple[KeyPrincipal, TeamLimits | None, tuple[Limit, ...]]
        ] = {}

    def resolve(self, principal: KeyPrincipal, model: str | None) -> tuple[Limit, ...]:
        """Every limit this request must pass; empty for an unlimited key (the fast path)."""
        team = self.teams.get(principal.team) if principal.team is not None else None
        cached = self._resolved.get((principal.id, model))
        if cached is not None and cached[0] is principal and cached[1] is team:
            return cached[2]
        found = self._resolve(principal, team, model)
        if len(self._resolved) >= _MAX_RESOLVED:
            self._resolved.clear()
        self._resolved[(principal.id, model)] = (principal, team, found)
        return found

    def _resolve(
        self, principal: KeyPrincipal, team: TeamLimits | None, model: str | None
    ) -> tuple[Limit, ...]:
        found: list[Limit] = []
        key_override = _override(principal.model_limits, model)
        key_scope = Scope("key", principal.id, principal.name)
        key_model_scope: Scope | None = None
        own, defaults = principal.limits, self.defaults
        for kind in KINDS:
            value = getattr(key_override, kind)
            if value is not None:
                if key_model_scope is None:
                    key_model_scope = Scope("key", principal.id, principal.name, model)
                found.append(Limit(kind, key_model_scope, value))
                continue
            value = getattr(own, kind)
            if value is not None:
                found.append(Limit(kind, key_scope, value))
                continue
            value = getattr(defaults, kind)
            if value is not None:
                found.append(Limit(kind, key_scope, value, default=True))
        if principal.team is not None and team is not None:
            found.extend(self._team_limits(principal.team, team, model))
        return tuple(found)

    @staticmethod
    def _team_limits(name: str, team: TeamLimits, model: str | None) -> list[Limit]:
        found: list[Limit] = []
        override = _override(team.model_limits, model)
        scope = Scope("team", name, name)
        model_scope = Scope("team", name, name, model)
        for kind in KINDS:
            value = getattr(override, kind)
            if value is not None:
                found.append(Limit(kind, model_scope, value))
            elif (value := getattr(team.limits, kind)) is not None:
                found.append(Limit(kind, scope, value))
        return found
