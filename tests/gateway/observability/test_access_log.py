"""One JSON line per request, with who, what, where and how long — and never a key."""

from __future__ import annotations

import json
import logging

import httpx
import openai
import pytest

from gateway.proxy.hooks import ProxyRequest, Stage
from gateway.wiring import StandIns
from services.fake_engine import RunningFakeEngine
from shared.logging import configure_logging, get_logger
from tests.gateway.proxy.support import (
    ALICE_KEY,
    BOB_KEY,
    LogCapture,
    RunningGateway,
    auth,
    build_app,
    running_gateway,
    wait_for,
)

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def test_each_request_is_one_line_with_its_facts(client: httpx.Client, logs: LogCapture) -> None:
    response = client.post(
        "/v1/chat/completions", json=CHAT, headers={**auth(), "x-request-id": "req-1"}
    )
    assert wait_for(lambda: len(logs.access()) == 1)
    (line,) = logs.access()
    assert line["request_id"] == "req-1" == response.headers["x-request-id"]
    assert (line["key_id"], line["key_name"]) == ("key_alice", "alice")
    assert (line["method"], line["route"], line["model"]) == (
        "POST",
        "/v1/chat/completions",
        "fake-model",
    )
    assert line["status"] == 200 and line["stream"] is False
    assert line["upstream"].startswith("127.0.0.1:")
    assert line["latency_ms"] >= line["ttfb_ms"] > 0
    assert line["prompt_tokens"] > 0 and line["completion_tokens"] == 2
    assert line["client_disconnected"] is False and line["error"] is None
    assert line["level"] == "info" and "timestamp" in line


def test_refused_and_unknown_requests_are_logged_too(
    client: httpx.Client, logs: LogCapture
) -> None:
    client.post("/v1/chat/completions", json=CHAT, headers=auth("tg-wrong"))
    client.post("/v1/chat/completions", json=CHAT, headers=auth(BOB_KEY))
    client.get("/nowhere")
    assert wait_for(lambda: len(logs.access()) == 3)
    unauthorized, forbidden, missing = logs.access()
    assert (unauthorized["status"], unauthorized["key_id"]) == (401, None)
    assert unauthorized["error"] == "invalid_api_key"
    assert (forbidden["status"], forbidden["key_name"], forbidden["error"]) == (
        403,
        "bob",
        "model_not_allowed",
    )
    assert (missing["status"], missing["route"]) == (404, "/nowhere")


def test_health_probes_stay_out_of_the_info_log(client: httpx.Client, logs: LogCapture) -> None:
    client.get("/health")
    client.get("/ready")
    client.get("/v1/models", headers=auth())
    assert wait_for(lambda: len(logs.access()) == 1)
    assert logs.access()[0]["route"] == "/v1/models"


def test_lines_written_while_serving_a_request_carry_its_id(
    fake_engine: RunningFakeEngine, logs: LogCapture
) -> None:
    async def note(request: ProxyRequest) -> None:
        get_logger("tollgate.test").info("admitting", model=request.model)

    app = build_app([fake_engine], stand_ins=StandIns(admissions=[Stage("note", note)]))
    with running_gateway(app) as gateway:
        response = httpx.post(f"{gateway}/v1/chat/completions", json=CHAT, headers=auth())
    (line,) = [json.loads(line) for line in logs.lines if '"admitting"' in line]
    assert line["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("console", [False, True])
def test_no_key_appears_in_any_log_line(
    gateway: RunningGateway, logs: LogCapture, console: bool
) -> None:
    if console:  # the human format, at the most talkative level
        configure_logging("console", "DEBUG")
        logs.setFormatter(logging.getLogger().handlers[0].formatter)
        logging.getLogger().addHandler(logs)
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=ALICE_KEY, max_retries=0)
    sdk.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])
    for _ in sdk.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "x"}], stream=True
    ):
        pass
    bob = openai.OpenAI(base_url=f"{gateway}/v1", api_key=BOB_KEY, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        bob.chat.completions.create(model="fake-model", messages=[])
    bob.close()
    bad = "tg-not-a-real-key-but-secret-looking-0000000000"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gateway}/v1", api_key=bad, max_retries=0).models.list()
    sdk.close()
    assert wait_for(lambda: sum("alice" in line or "bob" in line for line in logs.lines) >= 3)
    text = "\n".join(logs.lines)
    for secret in (ALICE_KEY, BOB_KEY, bad, ALICE_KEY[3:], BOB_KEY[3:]):
        assert secret not in text
