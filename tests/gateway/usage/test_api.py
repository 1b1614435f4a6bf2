"""`GET /admin/usage` (filters, grouping, JSON and CSV, clear 4xx) and `GET /tollgate/usage` (a key
sees its own usage only, in the shape the UI reads)."""

from __future__ import annotations

import csv
import io

import httpx

from tests.gateway.usage.support import (
    ADMIN,
    LedgerGateway,
    bearer,
    create_key,
    wait_for_rows,
)

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hello there"}]}


async def _traffic(gateway: LedgerGateway) -> tuple[str, str, str]:
    """Alice (team red) sends 3 requests on two models, Bob (team blue) 1; returns ids and Bob's key."""
    alice_id, alice = create_key(gateway, name="alice", team="red")
    bob_id, bob = create_key(gateway, name="bob", team="blue")
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for model in ("fake-model", "fake-model", "other-model"):
            response = client.post(
                "/v1/chat/completions", json={**CHAT, "model": model}, headers=bearer(alice)
            )
            assert response.status_code == 200
        assert client.post("/v1/chat/completions", json=CHAT, headers=bearer(bob)).is_success
    await wait_for_rows(gateway.database_url, 4)
    return alice_id, bob_id, bob


async def test_admins_group_usage_by_key_team_and_model(gateway: LedgerGateway) -> None:
    alice_id, bob_id, _ = await _traffic(gateway)
    response = httpx.get(f"{gateway}/admin/usage", params={"group_by": "key"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["group_by"] == ["key"]
    assert [(r["key_id"], r["key_name"], r["requests"]) for r in body["data"]] == sorted(
        [(alice_id, "alice", 3), (bob_id, "bob", 1)]
    )
    assert body["totals"]["requests"] == 4
    by_team_model = httpx.get(
        f"{gateway}/admin/usage",
        params=[("group_by", "team"), ("group_by", "model"), ("team", "red")],
        headers=ADMIN,
    ).json()
    assert [(r["team"], r["model"], r["requests"]) for r in by_team_model["data"]] == [
        ("red", "fake-model", 2),
        ("red", "other-model", 1),
    ]
    assert by_team_model["filters"]["team"] == "red"
    hourly = httpx.get(
        f"{gateway}/admin/usage",
        params={"group_by": "hour", "key": bob_id, "since": "1h"},
        headers=ADMIN,
    ).json()
    assert len(hourly["data"]) == 1 and hourly["data"][0]["requests"] == 1
    assert hourly["data"][0]["start"].endswith("Z")


async def test_admins_download_usage_as_csv(gateway: LedgerGateway) -> None:
    await _traffic(gateway)
    response = httpx.get(
        f"{gateway}/admin/usage", params={"group_by": "model", "format": "csv"}, headers=ADMIN
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["model"], r["requests"]) for r in table] == [
        ("fake-model", "3"),
        ("other-model", "1"),
        ("total", "4"),  # the totals line
    ]
    by_accept = httpx.get(f"{gateway}/admin/usage", headers={**ADMIN, "accept": "text/csv"})
    assert by_accept.text.startswith("requests,errors,")


async def test_bad_usage_queries_get_a_clear_400_in_openai_shape(gateway: LedgerGateway) -> None:
    cases = {
        (("group_by", "week"),): "group_by",
        (("group_by", "hour,day"),): "group_by",
        (("since", "yesterday-ish"),): "since",
        (("until", "2020-01-01"), ("since", "2021-01-01")): "since",
        (("format", "xml"),): "format",
    }
    for params, param in cases.items():
        response = httpx.get(f"{gateway}/admin/usage", params=list(params), headers=ADMIN)
        assert response.status_code == 400, (params, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param
        assert error["message"]
    too_long = httpx.get(f"{gateway}/admin/usage", params={"team": "x" * 500}, headers=ADMIN)
    assert too_long.status_code == 400 and "error" in too_long.json()


async def test_usage_needs_the_admin_token(gateway: LedgerGateway) -> None:
    _, key = create_key(gateway)
    for headers in ({}, bearer(key), {"authorization": "Bearer wrong"}):
        response = httpx.get(f"{gateway}/admin/usage", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


async def test_key_holders_see_their_own_usage_in_the_ui_shape(gateway: LedgerGateway) -> None:
    _, bob_id, bob = await _traffic(gateway)
    response = httpx.get(f"{gateway}/tollgate/usage", headers=bearer(bob))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["key_id"] == bob_id and body["bucket"] == "hour"
    assert len(body["buckets"]) == 1
    bucket = body["buckets"][0]
    assert set(bucket) == {"start", "requests", "prompt_tokens", "completion_tokens", "errors"}
    assert bucket["requests"] == 1 and bucket["completion_tokens"] > 0
    assert body["totals"]["requests"] == 1
    assert set(body["limits"]) == {
        "rpm",
        "tpm",
        "max_concurrency",
        "daily_tokens",
        "monthly_tokens",
    }
    daily = httpx.get(
        f"{gateway}/tollgate/usage", params={"bucket": "day", "since": "7d"}, headers=bearer(bob)
    ).json()
    assert daily["bucket"] == "day" and daily["totals"]["requests"] == 1
    bad = httpx.get(f"{gateway}/tollgate/usage", params={"bucket": "year"}, headers=bearer(bob))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "bucket"
    anonymous = httpx.get(f"{gateway}/tollgate/usage")
    assert anonymous.status_code == 401
