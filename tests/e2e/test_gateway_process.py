"""`tollgate keys create` + `tollgate gateway` as separate processes, in front of the real engine."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import GatewayStack

pytestmark = pytest.mark.e2e


def test_a_key_made_with_the_cli_works_through_the_gateway_process(
    gateway_stack: GatewayStack,
) -> None:
    response = httpx.post(
        f"{gateway_stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway_stack.api_key}"},
        json={
            "model": gateway_stack.model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    assert response.headers["x-request-id"]


def test_gateway_logs_are_json_lines_without_the_key(gateway_stack: GatewayStack) -> None:
    httpx.get(
        f"{gateway_stack.gateway_url}/v1/models",
        headers={"authorization": f"Bearer {gateway_stack.api_key}"},
        timeout=30,
    )
    httpx.get(
        f"{gateway_stack.gateway_url}/v1/models",
        headers={"authorization": f"Bearer {gateway_stack.api_key}x"},
        timeout=30,
    )
    lines = [line for line in gateway_stack.log_lines() if line.strip()]
    assert lines
    for line in lines:
        json.loads(line)  # every line parses in JSON mode
    joined = "\n".join(lines)
    assert gateway_stack.api_key not in joined
    assert gateway_stack.admin_token not in joined
