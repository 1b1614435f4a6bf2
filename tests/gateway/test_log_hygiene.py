"""What a real `tollgate gateway` process writes to its log: in JSON mode every line parses as
JSON; no API key or admin token ever appears; prompts and answers appear only when content
logging is switched on, and then with secrets redacted."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.redaction import redact_content, redact_secrets
from tests.processes import gateway_process, tollgate_env

ADMIN_TOKEN = "admin-token-for-hygiene-0123456789abcdef"
PROMPT_MARK = "PROMPT-MARKER-c0ffee"
STRANGER_KEY = "tg-" + "S" * 43  # well-formed, unknown
SECRET_IN_PROMPT = "tg-" + "P" * 43  # a user pasted a key into the chat


@pytest.fixture
def engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(itl_ms=5)) as url:
        yield url


def run_traffic(url: str) -> tuple[list[str], str]:
    """Requests of every kind; returns the secrets used and one answer's text."""
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    created = httpx.post(f"{url}/admin/keys", json={"name": "hygiene"}, headers=admin).json()
    key = created["key"]
    revoked = httpx.post(f"{url}/admin/keys", json={"name": "gone"}, headers=admin).json()
    httpx.delete(f"{url}/admin/keys/{revoked['id']}", headers=admin)
    chat = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": f"{PROMPT_MARK} my key is {SECRET_IN_PROMPT}"}],
    }
    answer = ""
    with httpx.Client(base_url=url, timeout=30) as client:
        for headers in (
            {"authorization": f"Bearer {key}"},
            {"x-api-key": key},
            {"authorization": f"Bearer {STRANGER_KEY}"},
            {"authorization": f"Bearer {revoked['key']}"},
            {"authorization": "Bearer tg-short"},
            {"authorization": f"Basic {key}"},
            {"authorization": f"Bearer {ADMIN_TOKEN}"},
        ):
            response = client.post("/v1/chat/completions", json=chat, headers=headers)
            if response.status_code == 200:
                answer = response.json()["choices"][0]["message"]["content"]
        bearer = {"authorization": f"Bearer {key}"}
        client.post("/v1/chat/completions", json={**chat, "stream": True}, headers=bearer)
        client.post(
            "/v1/chat/completions", json=chat, headers={**bearer, "x-fake-fault": "status-500"}
        )
        client.post("/v1/chat/completions", content=b'{"model": ', headers=bearer)
        client.get("/admin/keys", headers={"authorization": f"Bearer {key}"})
        client.get(f"/nothing/{key}")
    assert answer
    return [key, revoked["key"], STRANGER_KEY, ADMIN_TOKEN, SECRET_IN_PROMPT], answer


def gateway_log(engine: str, data_dir: Path, **env_extra: str) -> tuple[list[str], list[str], str]:
    env = tollgate_env(data_dir, TOLLGATE_ADMIN_TOKEN=ADMIN_TOKEN, **env_extra)
    with gateway_process(engine, env, keep_lines=5000, interval_s=0.05) as gateway:
        process = gateway.process
        try:
            secrets, answer = run_traffic(gateway.url)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    lines = [line for line in process.last_lines(5000).splitlines() if line.strip()]
    return lines, secrets, answer


def test_json_logs_carry_no_key_and_no_prompt_or_answer(
    engine: RunningFakeEngine, tmp_path: Path
) -> None:
    lines, secrets, answer = gateway_log(engine, tmp_path)
    parsed = [json.loads(line) for line in lines]  # every line is JSON
    assert any(p.get("logger") == "tollgate.access" for p in parsed)
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text
    assert PROMPT_MARK not in text
    assert answer not in text
    assert not [p for p in parsed if p.get("event") == "request content"]


def test_content_logging_is_opt_in_and_redacts_secrets(
    engine: RunningFakeEngine, tmp_path: Path
) -> None:
    lines, secrets, answer = gateway_log(engine, tmp_path, TOLLGATE_LOG_CONTENT="true")
    parsed = [json.loads(line) for line in lines]
    content = [p for p in parsed if p.get("event") == "request content"]
    assert content, "content logging was switched on but logged nothing"
    assert any(PROMPT_MARK in p["prompt"] and "[REDACTED]" in p["prompt"] for p in content)
    assert any(answer[:20] in p["answer"] for p in content)
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text


def test_redaction_keeps_display_prefixes_and_hides_secrets() -> None:
    key = "tg-" + "a" * 43
    assert redact_secrets(f"key {key} prefix tg-aaaaaaaa") == "key [REDACTED] prefix tg-aaaaaaaa"
    assert redact_secrets("Authorization: Bearer abc.def-ghi_12345") == "Authorization: [REDACTED]"
    assert redact_secrets("sk-proj-" + "x" * 30) == "[REDACTED]"
    assert redact_content("write to jane.doe@example.com") == "write to [REDACTED]"
    assert redact_content("plain words stay") == "plain words stay"
