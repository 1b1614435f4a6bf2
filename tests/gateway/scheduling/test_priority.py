"""Tiers become vLLM's per-request `priority` in the body the engine receives."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.fake_engine import RunningFakeEngine
from tests.gateway.scheduling.conftest import auth, chat, scheduled_gateway


def sent_priority(engine: RunningFakeEngine) -> Any:
    body = engine.app.state.stats.recent[-1].as_dict()["body"]
    return body.get("priority", "absent")


@pytest.mark.parametrize(
    ("key", "header", "body", "expected"),
    [
        ("chat", None, {}, -10),  # interactive
        ("light", None, {}, 0),  # standard
        ("bulk", None, {}, 10),  # batch
        ("chat", "batch", {}, 10),  # a key may ask to run later
        ("light", "interactive", {}, 0),  # ...never earlier than its tier
        ("bulk", None, {"priority": -100}, 10),  # nor by writing its own priority
        ("light", None, {"priority": 50}, 50),  # a later one of its own is kept
    ],
)
def test_the_tier_sets_the_priority_the_engine_gets(
    paced_engine: RunningFakeEngine,
    key: str,
    header: str | None,
    body: dict[str, Any],
    expected: int,
) -> None:
    with scheduled_gateway(paced_engine, send_priority=True) as gw:
        headers = {**auth(key), **({"x-tollgate-tier": header} if header else {})}
        response = httpx.post(f"{gw}/v1/chat/completions", json=chat(**body), headers=headers)
        assert response.status_code == 200
        assert sent_priority(paced_engine) == expected


def test_no_priority_is_sent_unless_the_engine_schedules_by_priority(
    paced_engine: RunningFakeEngine,
) -> None:
    with scheduled_gateway(paced_engine) as gw:  # engine.scheduling_policy defaults to fcfs
        stream = chat(stream=True)
        with httpx.stream(
            "POST", f"{gw}/v1/chat/completions", json=stream, headers=auth("chat")
        ) as response:
            assert response.status_code == 200
            response.read()
        assert sent_priority(paced_engine) == "absent"
