"""Faults with real processes: the engine is SIGKILLed mid-stream, stays down, comes back; it
hangs; Redis and the database go away and come back. Each time the client gets a clear answer in
OpenAI's shape, the ledger records what happened, and the gateway recovers by itself."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from services.fake_engine import FakeEngineConfig, FakeEngineProcess
from services.fake_engine.server import free_port
from tests.gateway.db.databases import postgres_schema
from tests.gateway.limits.support import own_redis
from tests.gateway.reliability.support import (
    ADMIN,
    CHAT,
    SeverableTcpProxy,
    assert_openai_error,
    bearer,
    gateway_process,
    metric_value,
    wait_until,
)
from tests.gateway.usage.support import ledger_rows, wait_for_rows

ENGINE = FakeEngineConfig(itl_ms=20, output_tokens=200)
SHORT = {**CHAT, "max_tokens": 4}  # well inside the 1 s first-byte timeout


def data_events(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


async def test_engine_killed_mid_stream_then_down_then_restarted(tmp_path: Path) -> None:
    engine = FakeEngineProcess(ENGINE, free_port()).start()
    try:
        with gateway_process(
            engine.base_url,
            tmp_path,
            TOLLGATE_GATEWAY__HEALTH_INTERVAL_S="0.2",
            TOLLGATE_GATEWAY__FIRST_BYTE_TIMEOUT_S="1",
        ) as gateway:
            _, key = gateway.create_key()
            client = httpx.Client(base_url=gateway.url, headers=bearer(key), timeout=15)

            # 1. SIGKILL (an out-of-memory kill) while a stream is under way.
            received: list[str] = []
            with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
                assert r.status_code == 200
                stream_id = r.headers["x-request-id"]
                for line in r.iter_lines():
                    received.append(line)
                    if len(data_events("\n".join(received))) == 3:
                        engine.kill()
            events = data_events("\n".join(received))
            final = json.loads(events[-1] if events[-1] != "[DONE]" else events[-2])
            assert set(final["error"]) == {"message", "type", "param", "code"}
            assert final["error"]["code"] == "engine_stream_error"
            assert '"content"' in events[1], "the tokens before the failure arrived"
            assert client.get("/health").status_code == 200  # the gateway itself is fine

            # 2. Down at request time: a quick 502/503 in OpenAI's shape, and /ready says so.
            down = client.post("/v1/chat/completions", json=CHAT)
            assert_openai_error(down, 502, 503)
            assert wait_until(lambda: client.get("/ready").status_code == 503)
            assert_openai_error(client.post("/v1/chat/completions", json=CHAT), 503)

            # 3. Restarted on the same address: the gateway finds it again by itself.
            engine = FakeEngineProcess(ENGINE, engine.port).start()
            assert wait_until(lambda: client.get("/ready").status_code == 200)
            again = client.post("/v1/chat/completions", json=SHORT)
            assert again.status_code == 200, again.text

            # 4. Too slow: a 504 after the first-byte timeout, not a hung client.
            slow = client.post("/v1/chat/completions", json=CHAT, headers={"x-fake-fault": "hang"})
            assert assert_openai_error(slow, 504)["code"] == "engine_timeout"
            assert client.post("/v1/chat/completions", json=SHORT).status_code == 200
            client.close()

            rows = await wait_for_rows(gateway.database_url, 6)
            by_id = {row.request_id: row for row in rows}
            assert by_id[stream_id].error is not None and by_id[stream_id].streamed
            assert by_id[stream_id].completion_tokens, "tokens sent before the kill are counted"
            errors = sorted(row.error or "" for row in rows)
            assert "engine_timeout" in errors
            assert sum(1 for row in rows if row.status in (502, 503)) == 2
            assert sum(1 for row in rows if row.status == 200 and not row.error) == 2
    finally:
        engine.stop()


async def test_database_down_and_back_keeps_serving_and_loses_no_ledger_row(
    tmp_path: Path,
) -> None:
    """The real PostgreSQL behind a TCP proxy that the test cuts: connections reset, then refused."""
    engine = FakeEngineProcess(FakeEngineConfig(), free_port()).start()
    async with postgres_schema() as direct_url:
        direct = make_url(direct_url)
        with SeverableTcpProxy((direct.host or "127.0.0.1", direct.port or 5432)) as proxy:
            proxied = direct.set(host="127.0.0.1", port=proxy.port)
            url = proxied.render_as_string(hide_password=False)
            try:
                with gateway_process(
                    engine.base_url,
                    tmp_path,
                    TOLLGATE_DATABASE_URL=url,
                    TOLLGATE_KEYS__CACHE_TTL_S="0.5",
                    TOLLGATE_USAGE__MAX_BUFFER_ROWS="1000",
                ) as gateway:
                    _, key = gateway.create_key()
                    client = httpx.Client(base_url=gateway.url, timeout=15)
                    sent = 0
                    for _ in range(3):
                        assert client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))
                        sent += 1
                    assert len(await wait_for_rows(direct_url, sent)) == sent

                    proxy.cut()
                    # A key looked up before keeps working (its cache entry is stale by now)...
                    during = []
                    for _ in range(20):
                        r = client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))
                        during.append(r.status_code)
                        sent += 1
                    assert during == [200] * 20
                    # ...a key never seen cannot be checked: a clean 503, not a 401 or a 500.
                    stranger = client.post(
                        "/v1/chat/completions", json=CHAT, headers=bearer("tg-" + "Z" * 43)
                    )
                    assert assert_openai_error(stranger, 503)["code"] == "database_unavailable"
                    assert_openai_error(client.get("/admin/keys", headers=ADMIN), 503)
                    # The rows wait in memory, counted in /metrics.
                    assert wait_until(
                        lambda: (
                            metric_value(client.get("/metrics").text, "tollgate_usage_rows_pending")
                            >= 20
                        )
                    )
                    assert client.get("/health").status_code == 200

                    proxy.restore()
                    rows = await wait_for_rows(direct_url, sent, timeout_s=30)
                    assert len(rows) == sent, f"{sent - len(rows)} rows lost"
                    assert len({row.request_id for row in rows}) == sent
                    metrics = client.get("/metrics").text
                    assert metric_value(metrics, "tollgate_usage_rows_dropped_total") == 0
                    again = client.post("/v1/chat/completions", json=CHAT, headers=bearer(key))
                    assert again.status_code == 200
                    client.close()
                assert len(await ledger_rows(direct_url)) == sent + 1
            finally:
                engine.stop()


def test_redis_down_and_back_under_a_gateway_process(tmp_path: Path) -> None:
    """A private `redis-server` (the shared one stays up) killed and restarted on its port: the
    gateway serves on without limits meanwhile (fail-open) and enforces them again after."""
    engine = FakeEngineProcess(FakeEngineConfig(), free_port()).start()
    try:
        with (
            own_redis(tmp_path) as redis,
            gateway_process(
                engine.base_url,
                tmp_path,
                TOLLGATE_REDIS_URL=redis.url,
                TOLLGATE_LIMITS__REDIS_RETRY_S="0.2",
            ) as gateway,
        ):
            _, key = gateway.create_key(rpm=2)
            with httpx.Client(base_url=gateway.url, headers=bearer(key), timeout=15) as client:

                def status() -> int:
                    return client.post("/v1/chat/completions", json=CHAT).status_code

                assert [status() for _ in range(3)] == [200, 200, 429]
                redis.kill()
                assert [status() for _ in range(4)] == [200] * 4  # served, not limited
                assert client.get("/health").status_code == 200
                redis.start()  # empty: the counters start afresh
                assert wait_until(lambda: status() == 429)
            assert "rate-limit backend unreachable" in gateway.log()
            assert "rate-limit backend reachable again" in gateway.log()
    finally:
        engine.stop()
