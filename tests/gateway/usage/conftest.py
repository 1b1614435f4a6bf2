"""The whole gateway (real keys in a database, the ledger on) in front of a fake engine, on SQLite
and on the real PostgreSQL in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.app import create_app
from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.settings import Settings, UsageSettings
from tests.gateway.db.databases import database_url, db
from tests.gateway.proxy.conftest import logs  # the JSON log lines of a test
from tests.gateway.proxy.support import running_gateway
from tests.gateway.usage.support import ADMIN_TOKEN, LedgerGateway

__all__ = ["database_url", "db", "logs"]

MODELS = ("fake-model", "other-model")


@pytest.fixture
def fake_engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(models=MODELS)) as url:
        yield url


def ledger_settings(upstream: str, database: str, data_dir: Path, **usage: object) -> Settings:
    return Settings(
        upstreams=[upstream],
        data_dir=data_dir,
        database_url=database,
        admin_token=ADMIN_TOKEN,
        usage=UsageSettings(**{"flush_interval_s": 0.05, **usage}),  # type: ignore[arg-type]
    )


@pytest.fixture
async def gateway(
    fake_engine: RunningFakeEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[LedgerGateway]:
    app = create_app(ledger_settings(fake_engine, database_url, tmp_path))
    with running_gateway(app) as url:
        yield LedgerGateway(url, database_url, fake_engine)
