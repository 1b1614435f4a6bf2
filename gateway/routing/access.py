"""Which models a key may use: its own list (`--models`) and its team's.

A team's list comes from the database (`/admin/teams/{name}` `models`, `tollgate teams set
--models`) or, for a team without one there, from `routing.team_models` (settings or the
upstreams file). A key needs both its list and its team's to allow a model (a missing list
allows everything). Naming an alias allows that alias; naming the engine's model allows the
model and every alias of it, so a team limited to `merged_qwen3_finetuned` may also call it
`team-default`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway.keys.principal import KeyPrincipal


class StoredTeams(Protocol):
    models: Mapping[str, frozenset[str]]


class ModelAccess:
    def __init__(
        self, aliases: Mapping[str, str], team_models: Mapping[str, frozenset[str]]
    ) -> None:
        self._aliases = aliases
        self._team_models = team_models
        self.stored_teams: StoredTeams | None = None  # set while the database is open

    def _team_list(self, team: str) -> frozenset[str] | None:
        stored = self.stored_teams
        found = stored.models.get(team) if stored is not None else None
        return found if found is not None else self._team_models.get(team)

    def may_use(self, principal: KeyPrincipal, model: str) -> bool:
        target = self._aliases.get(model)
        allowed = principal.allowed_models
        if (
            allowed is not None
            and model not in allowed
            and (target is None or target not in allowed)
        ):
            return False
        if principal.team is None or not self.restricts_teams:
            return True
        team = self._team_list(principal.team)
        return team is None or model in team or (target is not None and target in team)

    @property
    def restricts_teams(self) -> bool:
        stored = self.stored_teams
        return bool(self._team_models) or (stored is not None and bool(stored.models))
