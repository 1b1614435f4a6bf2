"""Which models a key may use: its own list (`--models`) and its team's (`routing.team_models`).

A key needs both to allow a model (a missing list allows everything). Naming an alias in a list
allows that alias; naming the engine's model allows the model and every alias of it, so a team
limited to `merged_qwen3_finetuned` may also call it `team-default`.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.keys.principal import KeyPrincipal


class ModelAccess:
    def __init__(
        self, aliases: Mapping[str, str], team_models: Mapping[str, frozenset[str]]
    ) -> None:
        self._aliases = aliases
        self._team_models = team_models

    def may_use(self, principal: KeyPrincipal, model: str) -> bool:
        target = self._aliases.get(model)
        allowed = principal.allowed_models
        if (
            allowed is not None
            and model not in allowed
            and (target is None or target not in allowed)
        ):
            return False
        if principal.team is None or not self._team_models:
            return True
        team = self._team_models.get(principal.team)
        return team is None or model in team or (target is not None and target in team)

    @property
    def restricts_teams(self) -> bool:
        return bool(self._team_models)
