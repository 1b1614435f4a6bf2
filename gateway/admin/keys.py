"""`/admin/keys`: create (the key is returned once), list, show, update, revoke.

The handlers take the `keys` dependency (a `KeyService`), which the keys plugin provides."""

from __future__ import annotations

from litestar import delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from gateway.admin.base import AdminController
from gateway.keys.service import KeyService
from shared.schemas.keys import KeyCreate, KeyCreated, KeyInfo, KeyList, KeyUpdate

_KEY_ID = Parameter(description="the key's id, key_…", max_length=200)


class AdminKeysController(AdminController):
    path = "/admin/keys"

    @post("/", status_code=201, summary="Create a key (the key is in this answer only)")
    async def create_key(
        self, data: JSONBody[KeyCreate], keys: NamedDependency[KeyService]
    ) -> KeyCreated:
        return await keys.create(data)

    @get("/", summary="List keys")
    async def list_keys(
        self,
        keys: NamedDependency[KeyService],
        team: str | None = Parameter(default=None, description="only this team's keys"),
        revoked: bool | None = Parameter(default=None, description="only revoked or active keys"),
    ) -> KeyList:
        return KeyList(data=await keys.list(team=team, revoked=revoked))

    @get("/{key_id:str}", summary="Show a key")
    async def get_key(self, keys: NamedDependency[KeyService], key_id: str = _KEY_ID) -> KeyInfo:
        return await keys.get(key_id)

    @patch("/{key_id:str}", summary="Change a key's name, team, tier, models, limits or expiry")
    async def update_key(
        self, data: JSONBody[KeyUpdate], keys: NamedDependency[KeyService], key_id: str = _KEY_ID
    ) -> KeyInfo:
        return await keys.update(key_id, data)

    @delete("/{key_id:str}", status_code=200, summary="Revoke a key (it stays listed)")
    async def revoke_key(self, keys: NamedDependency[KeyService], key_id: str = _KEY_ID) -> KeyInfo:
        return await keys.revoke(key_id)
