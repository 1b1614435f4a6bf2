"""The UI's chats run interactive: the UI token lets `x-tollgate-tier` raise a request's tier.

Seen where it matters, in the priority the engine gets (interactive -10, standard 0, batch 10),
and in what the engine and the logs never see: the token itself.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.wiring import StandIns
from services.fake_engine import RunningFakeEngine
from shared.secret_files import UI_TOKEN
from shared.settings import SchedulingSettings, Settings
from tests.gateway.proxy.support import LogCapture, RunningGateway, running_gateway
from tests.gateway.scheduling.conftest import auth, chat, named_keys
from ui.client import ChatRequest, GatewayClient

TOKEN = "tgui-the-right-one-" + "x" * 24


def seen_by_engine(engine: RunningFakeEngine) -> dict[str, Any]:
    seen: dict[str, Any] = engine.app.state.stats.recent[-1].as_dict()
    return seen


@contextlib.contextmanager
def ui_gateway(
    engine: RunningFakeEngine, data_dir: Path, ui_token: str | None
) -> Iterator[RunningGateway]:
    settings = Settings(
        upstreams=[engine],
        data_dir=data_dir,  # no developer's DATA_DIR/ui-token is trusted by accident
        ui_token=SecretStr(ui_token) if ui_token else None,
        scheduling=SchedulingSettings(send_priority=True),
    )
    with running_gateway(create_app(settings, stand_ins=StandIns(keys=named_keys))) as url:
        yield url


def post(gateway: str, key: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway}/v1/chat/completions",
        json=chat(),
        headers={**auth(key), **{k.replace("_", "-"): v for k, v in headers.items()}},
    )


@pytest.mark.parametrize(
    ("key", "tier", "presented", "expected"),
    [
        ("light", "interactive", TOKEN, -10),  # the UI's chat on a standard key
        ("bulk", "interactive", TOKEN, -10),  # ...on a batch key too
        ("chat", "batch", TOKEN, 10),  # the UI may still lower a request
        ("light", None, TOKEN, 0),  # the token alone changes nothing
        ("light", "interactive", None, 0),  # no token: the key's tier is the ceiling
        ("light", "interactive", "tgui-a-stale-or-guessed-one", 0),  # a wrong one: ignored
        ("light", "interactive", TOKEN[:-1], 0),  # a prefix of the right one too
    ],
)
def test_only_the_right_ui_token_raises_the_tier(
    paced_engine: RunningFakeEngine,
    clean_env: Path,
    key: str,
    tier: str | None,
    presented: str | None,
    expected: int,
) -> None:
    with ui_gateway(paced_engine, clean_env, TOKEN) as gw:
        headers = {"x_tollgate_tier": tier} if tier else {}
        if presented is not None:
            headers["x_tollgate_ui_token"] = presented
        response = post(gw, key, **headers)
        assert response.status_code == 200
        seen = seen_by_engine(paced_engine)
    assert seen["body"]["priority"] == expected
    assert "x-tollgate-ui-token" not in seen["headers"]  # a gateway credential, never forwarded


def test_without_a_configured_token_the_header_means_nothing(
    paced_engine: RunningFakeEngine, clean_env: Path
) -> None:
    with ui_gateway(paced_engine, clean_env, None) as gw:
        response = post(gw, "light", x_tollgate_tier="interactive", x_tollgate_ui_token=TOKEN)
        assert response.status_code == 200
        seen = seen_by_engine(paced_engine)
    assert seen["body"]["priority"] == 0
    assert "x-tollgate-ui-token" not in seen["headers"]


def test_the_gateway_trusts_the_token_generated_into_the_data_dir(
    paced_engine: RunningFakeEngine, clean_env: Path
) -> None:
    generated = UI_TOKEN.generate(Settings(data_dir=clean_env))
    assert generated is not None and generated.startswith("tgui-")
    with ui_gateway(paced_engine, clean_env, None) as gw:
        response = post(gw, "light", x_tollgate_tier="interactive", x_tollgate_ui_token=generated)
        assert response.status_code == 200
    assert seen_by_engine(paced_engine)["body"]["priority"] == -10


async def test_a_ui_chat_on_a_standard_key_runs_interactive(
    paced_engine: RunningFakeEngine, clean_env: Path
) -> None:
    """The whole path: the UI's own client, configured with the token, through the gateway."""
    request = ChatRequest(model="fake-model", messages=[{"role": "user", "content": "hi"}])
    with ui_gateway(paced_engine, clean_env, TOKEN) as gw:
        async with GatewayClient(gw, timeout_s=30, ui_token=TOKEN) as ui:
            await ui.complete("tg-light", request)
            assert seen_by_engine(paced_engine)["body"]["priority"] == -10
            async for _ in ui.stream_chat("tg-light", request):
                pass
            assert seen_by_engine(paced_engine)["body"]["priority"] == -10
        async with GatewayClient(gw, timeout_s=30) as plain:  # a UI without the token
            await plain.complete("tg-light", request)
            assert seen_by_engine(paced_engine)["body"]["priority"] == 0


def test_a_wrong_token_is_logged_without_its_value(
    paced_engine: RunningFakeEngine, clean_env: Path, logs: LogCapture
) -> None:
    wrong = "tgui-wrong-" + "w" * 30
    with ui_gateway(paced_engine, clean_env, TOKEN) as gw:
        assert post(gw, "light", x_tollgate_tier="interactive", x_tollgate_ui_token=wrong)
        assert post(gw, "light", x_tollgate_tier="interactive", x_tollgate_ui_token=TOKEN)
        bad = post(gw, "light", x_tollgate_tier="urgent", x_tollgate_ui_token=TOKEN)
    assert bad.status_code == 400 and TOKEN not in bad.text
    warnings = [
        line for line in map(json.loads, logs.lines) if line.get("event") == "UI token ignored"
    ]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    everything = "\n".join(logs.lines)
    assert wrong not in everything and TOKEN not in everything
