"""Auth and secrets against real processes: failed authentications limited per client address,
the admin API closed to everyone without the admin token (path tricks included), keys never in
what the gateway prints, serves or stores, CORS closed, security headers on the UI."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, running_fake_engine
from shared.processes import ManagedProcess, wait_until_ready
from tests.conftest import free_port
from tests.gateway.reliability.conftest import Served
from tests.gateway.reliability.support import (
    ADMIN,
    ADMIN_TOKEN,
    CHAT,
    bearer,
    error_of,
    gateway_process,
    raw_get,
    raw_request,
)
from ui.security import SECURITY_HEADERS

WRONG = "tg-" + "W" * 43
# Secrets seen by this module's gateway, scanned for at the end.
USED: list[str] = [WRONG, ADMIN_TOKEN]


def client_from(address: str, url: str) -> httpx.Client:
    """A client whose requests come from `address` (any 127.x address is this machine)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=15)


def test_failed_authentications_are_limited_per_client_address(served: Served) -> None:
    with client_from("127.0.0.2", served.url) as guesser:
        guesses = [guesser.get("/v1/models", headers=bearer(WRONG)).status_code for _ in range(5)]
        assert guesses == [401] * 5
        blocked = guesser.get("/v1/models", headers=bearer(served.key))  # even the right key
        assert blocked.status_code == 429
        assert error_of(blocked.content)["code"] == "too_many_auth_failures"
        assert int(blocked.headers["retry-after"]) >= 1
    with client_from("127.0.0.3", served.url) as neighbour:
        assert neighbour.get("/v1/models", headers=bearer(served.key)).status_code == 200
    served.assert_still_serving()


ADMIN_TARGETS = [
    "/admin/keys",
    "/admin/keys/",
    "/admin//keys",
    "//admin/keys",
    "/ADMIN/keys",
    "/admin%2Fkeys",
    "/admin%2fkeys",
    "/%61dmin/keys",
    "/v1/../admin/keys",
    "/v1/%2e%2e/admin/keys",
    "/v1/..%2Fadmin/keys",
    "/v1/models/../../admin/keys",
    "/./admin/keys",
    "/admin/./keys",
    "/admin;/keys",
    "/admin/keys;x=1",
    "/admin/keys?x=/v1/models",
    "/admin/keys%00",
    "/admin/keys#",
    "/admin/usage",
    "/admin/teams",
]


def test_behind_a_trusted_balancer_the_forwarded_client_address_is_limited(
    tmp_path: Path,
) -> None:
    with (
        running_fake_engine(FakeEngineConfig()) as engine,
        gateway_process(
            engine,
            tmp_path,
            TOLLGATE_GATEWAY__TRUSTED_PROXIES="127.0.0.1",
            TOLLGATE_LIMITS__AUTH_FAILURES_PER_IP="2/minute",
        ) as gateway,
    ):
        _, key = gateway.create_key()

        def models(client_address: str, presented: str) -> int:
            headers = {**bearer(presented), "x-forwarded-for": client_address}
            return httpx.get(f"{gateway.url}/v1/models", headers=headers).status_code

        assert [models("203.0.113.7", WRONG) for _ in range(2)] == [401, 401]
        assert models("203.0.113.7", key) == 429  # that client is blocked...
        assert models("203.0.113.8", key) == 200  # ...not the balancer's other clients


WHO = ["nobody", "api key", "wrong admin token", "admin token in x-api-key"]


def test_wrong_admin_tokens_are_limited_per_client_address(served: Served) -> None:
    wrong = bearer(ADMIN_TOKEN[:-1] + "y")
    with client_from("127.0.0.4", served.url) as guesser:
        guesses = [guesser.get("/admin/keys", headers=wrong).status_code for _ in range(5)]
        assert guesses == [401] * 5
        blocked = guesser.get("/admin/keys", headers=ADMIN)  # even the right token
        assert blocked.status_code == 429
        assert error_of(blocked.content)["code"] == "too_many_auth_failures"
    with client_from("127.0.0.5", served.url) as admin:
        assert admin.get("/admin/keys", headers=ADMIN).status_code == 200


@pytest.mark.parametrize("who", WHO)
def test_admin_routes_are_closed_without_the_admin_token_whatever_the_path(
    served: Served, who: str
) -> None:
    headers = {
        "nobody": {},
        "api key": bearer(served.key),
        "wrong admin token": bearer(ADMIN_TOKEN[:-1] + "x"),
        "admin token in x-api-key": {"x-api-key": ADMIN_TOKEN},
    }[who]
    # Each kind of caller from its own address: wrong credentials are throttled per address
    # (429 past the limit), and the real token below comes from a clean one.
    source = f"127.0.1.{1 + list(WHO).index(who)}"
    for target in ADMIN_TARGETS:
        status, body = raw_get(served.port, target, headers, source=source)
        assert status in (400, 401, 403, 404, 405, 429), (target, status, body[:200])
        error_of(body)
        assert served.key_id.encode() not in body
    status, body = raw_get(served.port, "/admin/keys", ADMIN)
    assert status == 200 and served.key_id.encode() in body  # the real token does work


def test_cors_is_closed_by_default(served: Served) -> None:
    origin = {"origin": "https://evil.example"}
    preflight = httpx.options(
        f"{served.url}/v1/chat/completions",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code < 500
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    for path in ("/v1/models", "/admin/keys", "/tollgate/me"):
        response = httpx.get(f"{served.url}{path}", headers={**origin, **bearer(served.key)})
        assert "access-control-allow-origin" not in response.headers, path


def test_the_ui_process_sends_security_headers(served: Served) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    command = [sys.executable, "-m", "services.cli", "ui", "--port", str(port)]
    ui = ManagedProcess("ui", [*command, "--gateway", served.url], env, echo=None).start()
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/", ui, 120, interval_s=0.2)
        for path in ("/", "/config", "/no-such-page"):
            response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (path, name)
            assert "access-control-allow-origin" not in response.headers
    finally:
        ui.stop(grace_s=10)


def test_keys_appear_nowhere_the_gateway_writes_or_serves(served: Served, tmp_path: Path) -> None:
    """Every secret this module used, looked for in the process output, /metrics, every answer
    and a dump of the database: only hashes are stored."""
    gateway = served.gateway
    created = httpx.post(f"{served.url}/admin/keys", json={"name": "leak"}, headers=ADMIN).json()
    revoked = httpx.post(f"{served.url}/admin/keys", json={"name": "gone"}, headers=ADMIN).json()
    httpx.delete(f"{served.url}/admin/keys/{revoked['id']}", headers=ADMIN)
    keys = [served.key, created["key"], revoked["key"]]
    USED.extend(keys)
    answers: list[str] = []
    with httpx.Client(base_url=served.url, timeout=15) as client:
        key = created["key"]
        for request in (
            client.build_request("POST", "/v1/chat/completions", json=CHAT, headers=bearer(key)),
            client.build_request(
                "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=bearer(key)
            ),
            client.build_request("GET", "/v1/models", headers=bearer(revoked["key"])),
            client.build_request("GET", "/v1/models", headers={"x-api-key": key}),
            client.build_request("GET", f"/v1/models?api_key={key}", headers=bearer(key)),
            client.build_request("GET", f"/nothing/{key}"),
            client.build_request(
                "POST", "/v1/chat/completions", json={**CHAT, "model": key}, headers=bearer(key)
            ),
            client.build_request(
                "POST",
                "/v1/chat/completions",
                headers={**bearer(key), "x-fake-fault": "status-500"},
                json=CHAT,
            ),
            client.build_request(
                "POST", "/v1/chat/completions", content=f"{{{key}".encode(), headers=bearer(key)
            ),
            client.build_request("GET", "/admin/keys", headers=ADMIN),
            client.build_request("GET", f"/admin/keys/{created['id']}", headers=ADMIN),
            client.build_request("GET", "/admin/usage?group_by=key", headers=ADMIN),
            client.build_request("GET", "/tollgate/me", headers=bearer(key)),
        ):
            response = client.send(request)
            assert response.status_code < 500 or request.headers.get("x-fake-fault")
            answers.append(response.text)
        metrics = client.get("/metrics").text
    _, _, raw = raw_request(
        served.port,
        f"GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\x01\r\n\r\n".encode(),
    )
    answers.append(raw.decode("latin-1"))

    database = gateway.data_dir / "tollgate.db"
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    files = b"".join(p.read_bytes() for p in gateway.data_dir.glob("tollgate.db*"))
    gateway_output = gateway.log()
    assert "tollgate.access" in gateway_output  # the log was captured at all
    for secret in USED:
        assert secret not in gateway_output, "a secret in the gateway's output"
        assert secret not in metrics, "a secret in /metrics"
        assert secret not in dump and secret.encode() not in files, "a secret in the database"
        for answer in answers:
            assert secret not in answer, f"a secret in an answer: {answer[:300]}"
    for key in keys:
        assert hashlib.sha256(key.encode()).hexdigest() in dump  # stored as its hash only
