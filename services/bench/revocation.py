"""`tollgate bench revocation`: how long a revoked key keeps working on another gateway.

Two gateway processes share one PostgreSQL schema (made for the run and dropped after it) and
Redis, in front of the fake engine. Each round creates a key through the first gateway's admin
API, uses it on the second, revokes it on the first, and times the second gateway's answers
from the revocation's reply to the first 401. The key cache lives a minute here, so only the
Redis announcement can explain a quick refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
from sqlalchemy import text

from gateway.db import create_engine
from services.fake_engine import FakeEngineConfig, running_fake_engine
from services.fake_engine.server import free_port
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


class RevocationBenchError(RuntimeError):
    """The run could not be made (no database or Redis, a gateway did not start)."""


def _sql(database_url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url, for_migrations=True)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except Exception as exc:  # the driver's own errors: no server, bad credentials...
        raise RevocationBenchError(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def _gateway(upstream: str, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "services.cli", "gateway", "--port", str(port)]
    process = ManagedProcess("gateway", [*command, "--upstream", upstream], env, echo=None)
    process.start()
    try:
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/health", process, 60, interval_s=0.1)
        except (ProcessExited, ReadyTimeout) as exc:
            raise RevocationBenchError(
                f"a gateway did not start: {exc}\n{process.last_lines()}"
            ) from exc
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop(grace_s=10)


def measure_revocation(
    database_url: str,
    redis_url: str,
    rounds: int,
    on_round: Callable[[int], None] | None = None,
) -> list[float]:
    """Milliseconds from each revocation's answer to the other gateway's first 401."""
    if not database_url.startswith("postgresql"):
        raise RevocationBenchError(
            "--database-url must be a PostgreSQL URL (postgresql+asyncpg://…)"
        )
    schema = f"tg_bench_revocation_{uuid.uuid4().hex[:8]}"
    admin = secrets.token_urlsafe(16)
    separator = "&" if "?" in database_url else "?"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")},
        "TOLLGATE_DATA_DIR": tempfile.mkdtemp(prefix="tollgate-bench-"),
        "TOLLGATE_LOG_FORMAT": "json",
        "TOLLGATE_LOG_LEVEL": "WARNING",
        "TOLLGATE_DATABASE_URL": f"{database_url}{separator}options={quote(f'-csearch_path={schema}')}",
        "TOLLGATE_REDIS_URL": redis_url,
        "TOLLGATE_ADMIN_TOKEN": admin,
        "TOLLGATE_KEYS__CACHE_TTL_S": "60",  # only the announcement can explain a quick refusal
        "TOLLGATE_KEYS__INVALIDATION_CHANNEL": f"tollgate:bench:{schema}",
        "TOLLGATE_LIMITS__REDIS_PREFIX": f"tollgate:bench:{schema}:",
        "TOLLGATE_LIMITS__AUTH_FAILURES_PER_IP": "100000/minute",
    }
    _sql(database_url, f'CREATE SCHEMA "{schema}"')
    took: list[float] = []
    try:
        with running_fake_engine(FakeEngineConfig()) as engine, contextlib.ExitStack() as stack:
            # The second starts once the first has migrated the schema.
            first = stack.enter_context(_gateway(engine, env))
            second = stack.enter_context(_gateway(engine, env))
            admin_headers = {"authorization": f"Bearer {admin}"}
            with httpx.Client(timeout=30, trust_env=False) as client:
                for done in range(rounds):
                    made = client.post(
                        f"{first}/admin/keys", json={"name": f"k{done}"}, headers=admin_headers
                    )
                    if made.status_code != 201:
                        raise RevocationBenchError(
                            f"creating a key: {made.status_code} {made.text}"
                        )
                    headers = {"authorization": f"Bearer {made.json()['key']}"}
                    url = f"{second}/v1/chat/completions"
                    used = client.post(url, json=BODY, headers=headers)
                    if used.status_code != 200:
                        raise RevocationBenchError(f"a new key was refused: {used.status_code}")
                    client.delete(f"{first}/admin/keys/{made.json()['id']}", headers=admin_headers)
                    start = time.monotonic()
                    while client.post(url, json=BODY, headers=headers).status_code != 401:
                        if time.monotonic() - start > 120:
                            raise RevocationBenchError("the revoked key still works after 120 s")
                    took.append((time.monotonic() - start) * 1000)
                    if on_round is not None:
                        on_round(done + 1)
    finally:
        _sql(database_url, f'DROP SCHEMA "{schema}" CASCADE')
    return took


def summary(took_ms: list[float]) -> str:
    return (
        f"revoked key refused by the other gateway after: median {statistics.median(took_ms):.1f}"
        f" ms, max {max(took_ms):.1f} ms, over {len(took_ms)} revocations (key cache TTL 60 s)"
    )
