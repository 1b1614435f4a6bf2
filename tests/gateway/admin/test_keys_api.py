from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.keys.helpers import assert_openai_error, build_app, make_settings, serve

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
async def client(clean_env: Path, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(build_app(make_settings(clean_env / "data", database_url))) as client:
        yield client


async def _create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/admin/keys", json={"name": "alice", **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _me(client: httpx.AsyncClient, key: str) -> Any:
    return client.get("/tollgate/me", headers={"Authorization": f"Bearer {key}"})


async def test_a_created_key_is_returned_once_and_works(client: httpx.AsyncClient) -> None:
    created = await _create(
        client,
        team="ml",
        tier="batch",
        models=["m"],
        rpm=10,
        tpm=1000,
        max_concurrency=2,
        daily_tokens=10_000,
        monthly_tokens=300_000,
        expires_in_days=30,
    )
    assert created["key"].startswith("tg-") and created["id"].startswith("key_")
    assert created["limits"] == {
        "rpm": 10,
        "tpm": 1000,
        "max_concurrency": 2,
        "daily_tokens": 10_000,
        "monthly_tokens": 300_000,
    }
    assert set(created) == {
        "id",
        "name",
        "team",
        "prefix",
        "tier",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked",
        "revoked_at",
        "allowed_models",
        "limits",
        "model_limits",
        "key",
    }
    assert (await _me(client, created["key"])).json()["id"] == created["id"]
    shown = (await client.get(f"/admin/keys/{created['id']}", headers=ADMIN)).json()
    listed = (await client.get("/admin/keys", headers=ADMIN)).json()
    assert "key" not in shown and all("key" not in k for k in listed["data"])
    assert created["key"] not in str(shown) + str(listed)


async def test_keys_are_listed_shown_and_filtered(client: httpx.AsyncClient) -> None:
    a = await _create(client, name="a", team="ml")
    b = await _create(client, name="b", team="web")
    await client.delete(f"/admin/keys/{b['id']}", headers=ADMIN)

    async def ids(query: str = "") -> list[str]:
        response = await client.get(f"/admin/keys{query}", headers=ADMIN)
        assert response.status_code == 200
        return [k["id"] for k in response.json()["data"]]

    assert await ids() == [a["id"], b["id"]]
    assert await ids("?team=ml") == [a["id"]]
    assert await ids("?revoked=false") == [a["id"]]
    shown = await client.get(f"/admin/keys/{a['id']}", headers=ADMIN)
    assert shown.json()["name"] == "a" and shown.json()["team"] == "ml"


async def test_an_update_takes_effect_on_the_next_request(client: httpx.AsyncClient) -> None:
    created = await _create(client, rpm=5, models=["m"])
    assert (await _me(client, created["key"])).json()["limits"]["rpm"] == 5
    response = await client.patch(
        f"/admin/keys/{created['id']}",
        json={"rpm": 50, "models": None, "team": "ops", "tier": "interactive", "name": "bob"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    me = (await _me(client, created["key"])).json()
    assert me["limits"]["rpm"] == 50 and me["allowed_models"] is None
    assert (me["team"], me["tier"], me["name"]) == ("ops", "interactive", "bob")


async def test_expiry_can_be_set_and_cleared(client: httpx.AsyncClient) -> None:
    created = await _create(client, expires_at="2099-01-01T00:00:00Z")
    assert created["expires_at"] == "2099-01-01T00:00:00Z"
    cleared = await client.patch(
        f"/admin/keys/{created['id']}", json={"expires_at": None}, headers=ADMIN
    )
    assert cleared.json()["expires_at"] is None


async def test_revoking_stops_the_key_at_once_and_keeps_it_listed(
    client: httpx.AsyncClient,
) -> None:
    created = await _create(client)
    assert (await _me(client, created["key"])).status_code == 200
    revoked = await client.delete(f"/admin/keys/{created['id']}", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True and revoked.json()["revoked_at"]
    refused = await _me(client, created["key"])
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    listed = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
    assert [k["revoked"] for k in listed] == [True]


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"name": "a", "rpm": -1}, "rpm", "greater than or equal to 1"),
        ({"name": "a", "tier": "gold"}, "tier", "'interactive', 'standard' or 'batch'"),
        ({"name": "a", "rpmm": 3}, "rpmm", "Extra inputs"),
        ({"name": ""}, "name", "at least 1 character"),
        ({}, "name", "Field required"),
        ({"name": "a", "models": "m"}, "models", "valid list"),
        ({"name": "a", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "future"),
        ({"name": "a", "expires_in_days": 1, "expires_at": "2099-01-01"}, None, "not both"),
    ],
)
async def test_bad_create_bodies_get_400_in_openai_shape(
    client: httpx.AsyncClient, body: dict[str, Any], param: str | None, says: str
) -> None:
    response = await client.post("/admin/keys", json=body, headers=ADMIN)
    assert response.status_code == 400
    error = assert_openai_error(response.json(), "invalid_request_error")
    assert error["param"] == param and says in error["message"]


async def test_a_body_that_is_not_json_gets_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/keys",
        content=b"{name: alice",
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert_openai_error(response.json(), "invalid_request_error")


async def test_bad_updates_get_400(client: httpx.AsyncClient) -> None:
    created = await _create(client)
    for body in ({}, {"name": None}, {"tpm": 0}):
        response = await client.patch(f"/admin/keys/{created['id']}", json=body, headers=ADMIN)
        assert response.status_code == 400, body
        assert_openai_error(response.json(), "invalid_request_error")


async def test_unknown_ids_get_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, "/admin/keys/key_000000000000000000000000", json={"rpm": 1}, headers=ADMIN
        )
        assert response.status_code == 404, method
        error = assert_openai_error(response.json(), "not_found_error")
        assert error["code"] == "key_not_found"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_admin_token"),
        ({"Authorization": "Bearer wrong"}, "invalid_admin_token"),
        ({"Authorization": "admin-secret"}, "invalid_admin_token"),
    ],
)
async def test_admin_routes_need_the_admin_token(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    for method, path in (("GET", "/admin/keys"), ("POST", "/admin/keys")):
        response = await client.request(method, path, json={"name": "x"}, headers=headers)
        assert response.status_code == 401
        assert assert_openai_error(response.json(), "authentication_error")["code"] == code


async def test_an_api_key_is_not_an_admin_token(client: httpx.AsyncClient) -> None:
    created = await _create(client)
    response = await client.get(
        "/admin/keys", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert response.status_code == 401
    assert created["key"] not in response.text


async def test_without_a_token_the_admin_api_says_how_to_enable_it(
    clean_env: Path, database_url: str
) -> None:
    app = build_app(make_settings(clean_env / "data", database_url, admin_token=None))
    async with serve(app) as client:
        for method, path in (("GET", "/admin/keys"), ("DELETE", "/admin/keys/key_x")):
            response = await client.request(method, path, headers=ADMIN)
            assert response.status_code == 503
            error = assert_openai_error(response.json(), "admin_disabled")
            assert "TOLLGATE_ADMIN_TOKEN" in error["message"]


async def test_the_token_generated_on_first_start_is_accepted(
    clean_env: Path, database_url: str
) -> None:
    from gateway.keys.admin_token import generate_admin_token

    settings = make_settings(clean_env / "data", database_url, admin_token=None)
    token = generate_admin_token(settings)
    async with serve(build_app(settings)) as client:
        response = await client.get("/admin/keys", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
