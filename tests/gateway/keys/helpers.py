"""Small helpers for the key tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.openapi import OpenAPIConfig
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.admin.guards import AdminAuth, admin_guard
from gateway.db.session import Database, database_at, serving
from gateway.exception_handlers import EXCEPTION_HANDLERS
from gateway.keys.admin_token import resolve_admin_token
from gateway.keys.dependencies import KeyAuthentication
from gateway.keys.plugin import KeysPlugin
from gateway.keys.principal import KeyPrincipal
from gateway.wiring import KeyParts, build_keys
from shared.settings import Settings


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def _record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", _record)


class KeysApp(Litestar):
    """An app of the keys alone, with the parts it was built from."""

    database: Database
    keys: KeyParts


def build_app(settings: Settings) -> KeysApp:
    """The keys (database, store, service, admin API) alone, plus one key-guarded route
    standing in for the proxy; composed as gateway/wiring.py composes them."""

    @get("/v1/whoami")
    async def whoami(principal: NamedDependency[KeyPrincipal]) -> dict[str, str]:
        return {"id": principal.id}

    database = database_at(settings.resolved_database_url)
    keys = build_keys(settings, database)
    plugin = KeysPlugin(
        KeyAuthentication(keys.store).principal,
        store=keys.store,
        service=keys.service,
        admin=admin_guard(AdminAuth(resolve_admin_token(settings))),
        invalidation=keys.invalidation,
    )
    # gateway/app.py registers the app-wide OpenAI-shaped handler; this stands in for it.
    app = KeysApp(
        route_handlers=[whoami],
        plugins=[plugin],
        lifespan=[lambda _app: serving(database)],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="keys", version="0"),
        logging_config=None,  # as the gateway: logging is set up once, by shared.logging
    )
    app.database, app.keys = database, keys
    return app


def make_settings(
    data_dir: Path, database_url: str | None, admin_token: str | None = "admin-secret"
) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        admin_token=SecretStr(admin_token) if admin_token else None,
    )


def assert_openai_error(body: dict[str, Any], type_: str) -> dict[str, Any]:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == type_ and error["message"]
    return error


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, on this event loop (Litestar's test client runs apps on a
    thread of their own, where the test's asyncpg connections cannot follow). The lifespan
    runs in a task of its own: a fixture's setup and teardown run in different tasks."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # start-up failed: raise its error
    try:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            transport=transport, base_url="http://tollgate.test"
        ) as client:
            yield client
    finally:
        stop.set()
        await task
