"""`/admin/teams`: teams' shared limits (every key of a team draws from one team counter).

PUT sets a team's limits exactly (creating it), PATCH changes the fields given, DELETE removes
the team's limits (its keys keep their own). `TeamsPlugin` serves it and keeps the teams'
caches (limits, model lists) loaded while the app runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar, Response, delete, get, patch, put
from litestar.config.app import AppConfig
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.plugins import InitPluginProtocol

from gateway.admin.base import AdminController
from gateway.admin.guards import AdminGuard, admin_router
from gateway.background import PeriodicRefresh
from gateway.db.errors import DatabaseUnavailable
from gateway.di import provide_part
from gateway.limits.teams import TeamService
from shared.schemas.teams import TeamFields, TeamInfo, TeamList

_NAME = Parameter(description="the team's name, as keys name it", max_length=200)


def _no_team_database() -> Exception:
    return DatabaseUnavailable("Team limits need the key database, which this gateway lacks.")


class AdminTeamsController(AdminController):
    path = "/admin/teams"

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


class TeamsPlugin(InitPluginProtocol):
    def __init__(
        self,
        admin: AdminGuard,
        service: TeamService | None,
        caches: Sequence[PeriodicRefresh] = (),
    ) -> None:
        self._admin = admin
        self._service = service
        self._caches = tuple(caches)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(
            admin_router(
                self._admin,
                [AdminTeamsController],
                dependencies={"teams": provide_part(self._service, missing=_no_team_database)},
            )
        )
        if self._caches:
            app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for cache in self._caches:
                await cache.start()
                stack.push_async_callback(cache.aclose)
            yield
