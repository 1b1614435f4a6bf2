"""The raw key must never be stored, logged, or echoed: only its hash and prefix exist."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, update

from gateway.db import open_database
from gateway.db.models import ApiKey
from gateway.keys.tokens import hash_key
from shared.logging import configure_logging
from tests.gateway.keys.helpers import build_app, make_settings, serve

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the process logs, as JSON lines, with SQL statements and their parameters."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "DEBUG")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    sql_logger = logging.getLogger("sqlalchemy.engine")
    sql_logger.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        sql_logger.setLevel(logging.WARNING)
        root.handlers[:], root.level = saved


async def test_keys_appear_nowhere_but_in_the_create_answer(
    clean_env: Path, database_url: str, captured_logs: io.StringIO
) -> None:
    app = build_app(make_settings(clean_env / "data", database_url))
    keys: list[str] = ["tg-" + "Q" * 43]  # a guessed key: not stored, so nowhere at all
    answers: list[str] = []
    async with serve(app) as client:
        for name in ("used", "revoked", "expired"):
            response = await client.post("/admin/keys", json={"name": name}, headers=ADMIN)
            keys.append(response.json()["key"])
        used, revoked, expired = keys[1:]
        ids = [k["id"] for k in (await client.get("/admin/keys", headers=ADMIN)).json()["data"]]
        await client.delete(f"/admin/keys/{ids[1]}", headers=ADMIN)
        async with app.database.sessions() as session, session.begin():
            await session.execute(
                update(ApiKey).where(ApiKey.id == ids[2]).values(expires_at=ApiKey.created_at)
            )
        app.keys.store.clear()
        for key in keys:
            for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
                for path in ("/tollgate/me", "/v1/whoami"):
                    answers.append((await client.get(path, headers=headers)).text)
        await app.keys.store.flush()
    assert sum('"error"' in a for a in answers) == 12  # guessed, revoked, expired: refused
    logs = captured_logs.getvalue()
    assert "api_keys" in logs  # SQL and its parameters were really captured

    async with open_database(database_url) as db, db.engine.connect() as connection:
        metadata = MetaData()
        await connection.run_sync(metadata.reflect)
        dumped = []
        for table in metadata.sorted_tables:
            dumped += [str(tuple(row)) for row in (await connection.execute(select(table)))]
        hashes = set((await connection.execute(select(ApiKey.key_hash))).scalars())

    assert hashes == {hash_key(k) for k in (used, revoked, expired)}
    for key in keys:
        assert key not in logs
        assert key[3:] not in logs  # not even without its "tg-"
        assert all(key not in row for row in dumped)
        assert all(key not in answer for answer in answers)
