"""The engines, aliases and team lists come from TOLLGATE_UPSTREAMS or a YAML file; a broken
file stops the gateway with a message that says what to fix."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.routing.config import RoutingConfigError, load_routing_config
from services.fake_engine import RunningFakeEngine
from shared.settings import RoutingSettings, Settings
from tests.gateway.proxy.support import running_gateway
from tests.gateway.routing.support import KeyTable, auth, chat, keyed


def _settings(tmp_path: Path, text: str, **routing: object) -> Settings:
    path = tmp_path / "upstreams.yaml"
    path.write_text(text)
    return Settings(
        upstreams=["http://127.0.0.1:9"],
        routing=RoutingSettings(upstreams_file=path, **routing),  # type: ignore[arg-type]
    )


def test_the_file_replaces_the_upstreams_setting_and_settings_win_for_aliases(
    tmp_path: Path,
) -> None:
    config = load_routing_config(
        _settings(
            tmp_path,
            "upstreams:\n  - url: http://gpu1:8000/\n    name: gpu1\n  - url: http://gpu2:8000\n"
            "aliases: {team-default: a, fast: b}\nteam_models: {ml: [fast]}\n",
            aliases={"fast": "c"},
        )
    )
    assert [(u.url, u.name) for u in config.upstreams] == [
        ("http://gpu1:8000", "gpu1"),
        ("http://gpu2:8000", None),
    ]
    assert dict(config.aliases) == {"team-default": "a", "fast": "c"}
    assert config.team_models["ml"] == frozenset({"fast"})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("upstreams: [}", "not valid YAML"),
        ("upstreams: []\n", "upstreams"),
        ("upstreams:\n  - {url: http://a:1, weight: 3}\n", "weight"),
        ("upstreams:\n  - {url: http://a:1}\naliases: {x: y, y: z}\n", "points at another alias"),
        (
            "upstreams:\n  - {url: http://a:1, name: n}\n  - {url: http://b:1, name: n}\n",
            "same name",
        ),
    ],
)
def test_a_broken_file_is_refused_with_what_to_fix(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(RoutingConfigError, match=says):
        load_routing_config(_settings(tmp_path, text))


def test_a_gateway_started_from_a_file_routes_to_its_engines(
    tmp_path: Path, alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    settings = _settings(
        tmp_path,
        f"upstreams:\n  - {{url: '{alpha_engine}', name: left}}\n"
        f"  - {{url: '{beta_engine}', name: right}}\naliases: {{default: beta}}\n",
    )
    with running_gateway(
        create_app(settings, stand_ins=KeyTable(keyed("alice")).stand_ins())
    ) as gateway:
        ready = httpx.get(f"{gateway}/ready", timeout=10).json()
        assert ready["upstreams_healthy"] == 2
        answer = httpx.post(f"{gateway}/v1/chat/completions", json=chat("default"), headers=auth())
        assert answer.status_code == 200, answer.text
        state = httpx.get(f"{gateway}/tollgate/engine", headers=auth(), timeout=10).json()
        assert [u["name"] for u in state["upstreams"]] == ["left", "right"]
