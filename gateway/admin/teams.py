"""`/admin/teams`: teams' shared limits (every key of a team draws from one team counter).

PUT sets a team's limits exactly (creating it), PATCH changes the fields given, DELETE removes
the team's limits (its keys keep their own). Wired by the limits plugin (gateway/limits).
"""

from __future__ import annotations

from litestar import Response, delete, get, patch, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, Parameter

from gateway.admin.base import AdminController
from gateway.db.errors import DatabaseUnavailable
from gateway.limits.teams import TeamService
from shared.schemas.teams import TeamFields, TeamInfo, TeamList

_NAME = Parameter(description="the team's name, as keys name it", max_length=200)


def provide_team_service(state: State) -> TeamService:
    service: TeamService | None = state.get("team_service")
    if service is None:
        raise DatabaseUnavailable("Team limits need the key database, which this gateway lacks.")
    return service


class AdminTeamsController(AdminController):
    path = "/admin/teams"
    dependencies = {"teams": Provide(provide_team_service, sync_to_thread=False)}

    @get("/", summary="List teams with limits")
    async def list_teams(self, teams: NamedDependency[TeamService]) -> TeamList:
        return TeamList(data=await teams.list())

    @get("/{name:str}", summary="Show a team's limits")
    async def get_team(self, teams: NamedDependency[TeamService], name: str = _NAME) -> TeamInfo:
        return await teams.get(name)

    @put("/{name:str}", summary="Set a team's limits (creates the team; omitted = no limit)")
    async def put_team(
        self, data: JSONBody[TeamFields], teams: NamedDependency[TeamService], name: str = _NAME
    ) -> Response[TeamInfo]:
        info, created = await teams.put(name, data)
        return Response(info, status_code=201 if created else 200)

    @patch("/{name:str}", summary="Change some of a team's limits (null removes one)")
    async def update_team(
        self, data: JSONBody[TeamFields], teams: NamedDependency[TeamService], name: str = _NAME
    ) -> TeamInfo:
        return await teams.update(name, data)

    @delete("/{name:str}", status_code=200, summary="Remove a team's limits")
    async def delete_team(self, teams: NamedDependency[TeamService], name: str = _NAME) -> TeamInfo:
        return await teams.delete(name)
