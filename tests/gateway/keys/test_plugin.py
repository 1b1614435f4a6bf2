from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gateway.db import open_database
from gateway.db.models import ApiKey
from gateway.keys.service import KeyService
from shared.schemas.keys import KeyCreate, KeyCreated
from tests.gateway.keys.helpers import (
    KeysApp,
    assert_openai_error,
    build_app,
    make_settings,
    serve,
)


@pytest.fixture
async def app(clean_env: Path, database_url: str) -> KeysApp:
    return build_app(make_settings(clean_env / "data", database_url))


@pytest.fixture
async def client(app: KeysApp) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


async def _create(app: KeysApp, **fields: object) -> KeyCreated:
    service: KeyService = app.keys.service
    return await service.create(KeyCreate.model_validate({"name": "alice", **fields}))


async def test_me_answers_with_the_pinned_shape(app: KeysApp, client: httpx.AsyncClient) -> None:
    made = await _create(app, team="ml", tier="interactive", models=["m1"], rpm=5, tpm=500)
    response = await client.get("/tollgate/me", headers={"Authorization": f"Bearer {made.key}"})
    assert response.status_code == 200
    assert response.json() == {
        "id": made.id,
        "name": "alice",
        "team": "ml",
        "prefix": made.prefix,
        "tier": "interactive",
        "allowed_models": ["m1"],
        "expires_at": None,
        "limits": {
            "rpm": 5,
            "tpm": 500,
            "max_concurrency": None,
            "daily_tokens": None,
            "monthly_tokens": None,
        },
        "remaining": None,  # no limiter in this app (gateway/limits fills it in)
    }


async def test_the_principal_dependency_guards_other_routes(
    app: KeysApp, client: httpx.AsyncClient
) -> None:
    made = await _create(app)
    ok = await client.get("/v1/whoami", headers={"Authorization": f"bearer {made.key}"})
    assert ok.status_code == 200 and ok.json() == {"id": made.id}
    anthropic_style = await client.get("/v1/whoami", headers={"x-api-key": made.key})
    assert anthropic_style.json() == {"id": made.id}


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "Missing API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "Malformed Authorization header"),
        ({"Authorization": "Bearer sk-openai-key"}, "Malformed API key"),
        ({"Authorization": "Bearer tg-" + "x" * 43}, "Invalid API key"),
    ],
)
async def test_bad_keys_get_401_in_openai_shape(
    client: httpx.AsyncClient, headers: dict[str, str], says: str
) -> None:
    for path in ("/tollgate/me", "/v1/whoami"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        error = assert_openai_error(response.json(), "authentication_error")
        assert error["code"] == "invalid_api_key" and says in error["message"]


async def test_a_revoked_key_is_refused_at_once(app: KeysApp, client: httpx.AsyncClient) -> None:
    made = await _create(app)
    auth = {"Authorization": f"Bearer {made.key}"}
    assert (await client.get("/tollgate/me", headers=auth)).status_code == 200
    await app.keys.service.revoke(made.id)
    response = await client.get("/tollgate/me", headers=auth)
    assert response.status_code == 401
    assert "revoked" in assert_openai_error(response.json(), "authentication_error")["message"]


async def test_the_database_is_created_and_migrated_at_start(clean_env: Path) -> None:
    data_dir = clean_env / "fresh"
    settings = make_settings(data_dir, None)  # the default: SQLite in the data dir
    app = build_app(settings)
    async with serve(app) as client:
        made = await _create(app)
        assert (await client.get("/v1/whoami", headers={"x-api-key": made.key})).status_code == 200
    assert (data_dir / "tollgate.db").exists()


async def test_last_use_is_recorded_by_shutdown(clean_env: Path, database_url: str) -> None:
    app = build_app(make_settings(clean_env / "data", database_url))
    async with serve(app) as client:
        made = await _create(app)
        for _ in range(3):
            await client.get("/v1/whoami", headers={"x-api-key": made.key})
    async with open_database(database_url) as db, db.sessions() as session:
        row = (await session.execute(select(ApiKey))).scalar_one()
    assert row.last_used_at is not None


async def test_the_openapi_schema_documents_the_routes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert {"/tollgate/me", "/admin/keys", "/admin/keys/{key_id}"} <= set(schema["paths"])
    assert {"ApiKey", "AdminToken"} <= set(schema["components"]["securitySchemes"])


async def test_an_unreachable_database_stops_start_up_with_a_clear_error(clean_env: Path) -> None:
    from gateway.db import DatabaseUnavailable

    settings = make_settings(clean_env / "data", "postgresql://tg:hunter2@127.0.0.1:9/tollgate")
    # KeysApp's lifespan runs in a task group, which wraps the error in a group.
    with pytest.raises(ExceptionGroup) as caught:
        async with serve(build_app(settings)):
            pass
    assert caught.group_contains(DatabaseUnavailable, match="127.0.0.1:9")
    assert "hunter2" not in str(caught.value.exceptions)
