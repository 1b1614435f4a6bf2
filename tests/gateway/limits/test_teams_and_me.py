"""Team limits through `/admin/teams`, per-model limits on keys through `/admin/keys`, and what
`GET /tollgate/me` says is left — on the real keys database, as an operator uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from services.fake_engine import RunningFakeEngine
from tests.gateway.keys.helpers import assert_openai_error, serve
from tests.gateway.limits.support import chat, keyed_settings

ADMIN = {"authorization": "Bearer admin-secret"}


@pytest.fixture
async def client(
    tmp_path: Path, fake_engine: RunningFakeEngine, store: str | None
) -> AsyncIterator[httpx.AsyncClient]:
    settings = keyed_settings(tmp_path, fake_engine, store)
    async with serve(create_app(settings)) as client:
        yield client


async def new_key(client: httpx.AsyncClient, **fields: Any) -> dict[str, str]:
    created = await client.post("/admin/keys", json={"name": "k", **fields}, headers=ADMIN)
    assert created.status_code == 201, created.text
    return {"authorization": f"Bearer {created.json()['key']}"}


async def test_team_limits_can_be_set_changed_listed_and_removed(client: httpx.AsyncClient) -> None:
    put = await client.put(
        "/admin/teams/ml",
        json={"rpm": 60, "model_limits": {"small-model": {"tpm": 9000}}},
        headers=ADMIN,
    )
    assert put.status_code == 201, put.text
    body = put.json()
    assert body["name"] == "ml" and body["limits"]["rpm"] == 60 and body["limits"]["tpm"] is None
    assert body["model_limits"]["small-model"]["tpm"] == 9000
    patched = await client.patch("/admin/teams/ml", json={"tpm": 1000}, headers=ADMIN)
    assert patched.json()["limits"] == {
        "rpm": 60,
        "tpm": 1000,
        "max_concurrency": None,
        "daily_tokens": None,
        "monthly_tokens": None,
    }
    replaced = await client.put("/admin/teams/ml", json={"daily_tokens": 5}, headers=ADMIN)
    assert replaced.status_code == 200
    assert replaced.json()["limits"]["rpm"] is None and replaced.json()["model_limits"] is None
    listed = await client.get("/admin/teams", headers=ADMIN)
    assert [team["name"] for team in listed.json()["data"]] == ["ml"]
    assert (await client.delete("/admin/teams/ml", headers=ADMIN)).status_code == 200
    missing = await client.get("/admin/teams/ml", headers=ADMIN)
    assert missing.status_code == 404
    assert assert_openai_error(missing.json(), "not_found_error")["code"] == "team_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"rpm": 0}, "rpm"),
        ({"rpm": "many"}, "rpm"),
        ({"burst": 5}, "burst"),
        ({"model_limits": {"m": {}}}, "model_limits.m"),
        ({"model_limits": {"m": {"rpn": 3}}}, "model_limits.m.rpn"),
    ],
)
async def test_bad_team_limits_are_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    refused = await client.put("/admin/teams/ml", json=body, headers=ADMIN)
    assert refused.status_code == 400, refused.text
    error = assert_openai_error(refused.json(), "invalid_request_error")
    assert error["param"] == param


async def test_team_routes_need_the_admin_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/teams")).status_code == 401
    assert (await client.put("/admin/teams/ml", json={"rpm": 1})).status_code == 401
    missing = await client.patch("/admin/teams/nobody", json={"rpm": 1}, headers=ADMIN)
    assert missing.status_code == 404


async def test_a_team_limit_binds_its_keys_together_at_once(client: httpx.AsyncClient) -> None:
    alice = await new_key(client, team="ml")
    bob = await new_key(client, team="ml")
    assert (await client.put("/admin/teams/ml", json={"rpm": 2}, headers=ADMIN)).status_code == 201
    assert (
        await client.post("/v1/chat/completions", json=chat(), headers=alice)
    ).status_code == 200
    assert (await client.post("/v1/chat/completions", json=chat(), headers=bob)).status_code == 200
    refused = await client.post("/v1/chat/completions", json=chat(), headers=alice)
    assert refused.status_code == 429
    assert "team 'ml'" in refused.json()["error"]["message"]


async def test_me_says_what_is_left_of_each_limit_in_force(client: httpx.AsyncClient) -> None:
    alice = await new_key(client, team="ml", rpm=100, daily_tokens=50_000)
    await client.put("/admin/teams/ml", json={"rpm": 10}, headers=ADMIN)
    assert (
        await client.post("/v1/chat/completions", json=chat(), headers=alice)
    ).status_code == 200
    me = (await client.get("/tollgate/me", headers=alice)).json()
    assert me["limits"]["rpm"] == 100  # the key's own, as pinned
    left = me["remaining"]
    assert left["requests"] == {
        "limit": 10,
        "remaining": 9,
        "reset_seconds": left["requests"]["reset_seconds"],
        "scope": "team",
        "default": False,
    }
    assert 0 < left["requests"]["reset_seconds"] <= 6
    assert left["daily_tokens"]["scope"] == "key"
    assert 0 < left["daily_tokens"]["remaining"] < 50_000
    assert left["tokens"] is None and left["concurrency"] is None


async def test_an_unlimited_key_has_nothing_left_to_count(client: httpx.AsyncClient) -> None:
    me = (await client.get("/tollgate/me", headers=await new_key(client))).json()
    assert me["remaining"] == {
        "requests": None,
        "tokens": None,
        "concurrency": None,
        "daily_tokens": None,
        "monthly_tokens": None,
    }


async def test_keys_take_per_model_limits(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/admin/keys",
        json={"name": "k", "rpm": 1, "model_limits": {"small-model": {"rpm": 5}}},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    info = created.json()
    assert info["model_limits"]["small-model"]["rpm"] == 5
    key = {"authorization": f"Bearer {info['key']}"}
    small = {**chat(), "model": "small-model"}
    codes = [
        (await client.post("/v1/chat/completions", json=small, headers=key)).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 200]
    cleared = await client.patch(
        f"/admin/keys/{info['id']}", json={"model_limits": None}, headers=ADMIN
    )
    assert cleared.json()["model_limits"] is None
