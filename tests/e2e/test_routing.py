"""One gateway in front of the real vLLM engine and a fake engine serving another model:
each request reaches the engine of its model, an alias reaches the real engine, and the model
list spans both."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, running_fake_engine
from tests.gateway.routing.support import auth, chat, routed_gateway


@pytest.fixture(scope="module")
def mixed_gateway(engine_url: str) -> Iterator[tuple[str, str, str]]:
    """(gateway URL, the real engine's model, the fake engine's URL)."""
    real_model = httpx.get(f"{engine_url}/v1/models", timeout=30).json()["data"][0]["id"]
    with (
        running_fake_engine(FakeEngineConfig(models=("fake-other",))) as fake,
        routed_gateway([engine_url, fake], aliases={"team-default": real_model}) as gateway,
    ):
        yield gateway, real_model, fake


def test_the_real_engines_model_and_its_alias_are_answered_by_vllm(
    mixed_gateway: tuple[str, str, str],
) -> None:
    gateway, real_model, fake = mixed_gateway
    for name in (real_model, "team-default"):
        answer = httpx.post(
            f"{gateway}/v1/chat/completions",
            json=chat(name, max_tokens=8),
            headers=auth(),
            timeout=120,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == real_model  # vLLM answered, under its own name
        assert body["choices"][0]["message"]["content"]
    stats = httpx.get(f"{fake}/fake/stats", timeout=5).json()
    assert stats["requests_by_path"].get("/v1/chat/completions", 0) == 0


def test_the_other_model_is_answered_by_the_other_engine(
    mixed_gateway: tuple[str, str, str],
) -> None:
    gateway, real_model, _ = mixed_gateway
    answer = httpx.post(
        f"{gateway}/v1/chat/completions", json=chat("fake-other"), headers=auth(), timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "fake-other"
    listed = httpx.get(f"{gateway}/v1/models", headers=auth(), timeout=30).json()["data"]
    assert {m["id"] for m in listed} == {real_model, "fake-other", "team-default"}
    missing = httpx.post(f"{gateway}/v1/chat/completions", json=chat("nope"), headers=auth())
    assert missing.status_code == 404
