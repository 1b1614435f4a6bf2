"""Helpers for ledger tests: keys through the admin API, the ledger's rows straight from SQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from gateway.db import create_engine, session_factory
from gateway.db.models import UsageRecord

ADMIN_TOKEN = "admin-token-for-usage-tests"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


class LedgerGateway(str):
    """The gateway's base URL, with its database URL and the fake engine's URL."""

    database_url: str
    engine_url: str

    def __new__(cls, url: str, database_url: str, engine_url: str) -> LedgerGateway:
        instance = super().__new__(cls, url)
        instance.database_url = database_url
        instance.engine_url = engine_url
        return instance


def create_key(gateway: str, **fields: Any) -> tuple[str, str]:
    """(id, key) of a new key made through the admin API."""
    response = httpx.post(
        f"{gateway}/admin/keys", json={"name": "usage-test", **fields}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["key"]


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def ledger_rows(database_url: str) -> list[UsageRecord]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            result = await session.execute(select(UsageRecord).order_by(UsageRecord.id))
            return list(result.scalars())
    finally:
        await engine.dispose()


async def count_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count(UsageRecord.id)))).scalar_one())
    finally:
        await engine.dispose()


async def wait_for_rows(
    database_url: str, expected: int, timeout_s: float = 10.0
) -> list[UsageRecord]:
    """The ledger's rows once there are `expected` of them (or what is there at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = await ledger_rows(database_url)
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)
