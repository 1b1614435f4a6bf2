"""Requests go to the engine that serves their model; aliases, allowed models, 403 and 404."""

from __future__ import annotations

import json

import httpx

from services.fake_engine import RunningFakeEngine
from tests.gateway.routing.support import (
    auth,
    chat,
    error_of,
    keyed,
    routed_gateway,
    served,
)

ALIASES = {"team-default": "beta", "sql": "beta-sql-lora"}


def _last_model_sent(engine: str) -> str:
    stats = httpx.get(f"{engine}/fake/stats", timeout=5).json()
    body = stats["last_request"]["body"]
    return str((json.loads(body) if isinstance(body, str) else body)["model"])


def test_each_model_goes_to_the_engine_that_serves_it(
    alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    with routed_gateway([alpha_engine, beta_engine]) as gateway:
        for model in ("alpha", "beta", "beta-sql-lora", "alpha"):
            answer = httpx.post(f"{gateway}/v1/chat/completions", json=chat(model), headers=auth())
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == model
    assert served(alpha_engine) == 2
    assert served(beta_engine) == 2


def test_an_alias_reaches_its_engine_under_the_engines_model_name(
    alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    with routed_gateway([alpha_engine, beta_engine], aliases=ALIASES) as gateway:
        answer = httpx.post(
            f"{gateway}/v1/chat/completions", json=chat("team-default"), headers=auth()
        )
        assert answer.status_code == 200, answer.text
        assert _last_model_sent(beta_engine) == "beta"
        # As OpenAI answers an alias (gpt-4o) with the model that served it: the engine's name.
        assert answer.json()["model"] == "beta"
        lora = httpx.post(
            f"{gateway}/v1/completions", json={"model": "sql", "prompt": "x"}, headers=auth()
        )
        assert lora.status_code == 200, lora.text
        assert _last_model_sent(beta_engine) == "beta-sql-lora"
    assert served(alpha_engine) == 0


def test_an_unknown_model_is_a_404_in_openais_shape(
    alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    with routed_gateway([alpha_engine, beta_engine]) as gateway:
        answer = httpx.post(f"{gateway}/v1/chat/completions", json=chat("gamma"), headers=auth())
        assert answer.status_code == 404
        error = error_of(answer)
        assert error["code"] == "model_not_found" and "gamma" in error["message"]
        assert error["param"] == "model"
    assert served(alpha_engine) == served(beta_engine) == 0


def test_keys_and_teams_get_403_for_models_they_may_not_use(
    alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    principals = (
        keyed("alice"),
        keyed("carol", models=["team-default"]),  # the alias only
        keyed("dave", team="ml"),  # the team may use beta (and so its alias), nothing else
        keyed("erin", team="ops"),  # a team with no list: every model
    )
    with routed_gateway(
        [alpha_engine, beta_engine],
        *principals,
        aliases=ALIASES,
        team_models={"ml": ["beta"]},
    ) as gateway:

        def status(name: str, model: str) -> int:
            answer = httpx.post(
                f"{gateway}/v1/chat/completions", json=chat(model), headers=auth(name)
            )
            if answer.status_code == 403:
                assert error_of(answer)["code"] == "model_not_allowed"
            return answer.status_code

        assert status("carol", "team-default") == 200
        assert status("carol", "beta") == 403
        assert status("carol", "alpha") == 403
        assert status("dave", "beta") == 200
        assert status("dave", "team-default") == 200
        assert status("dave", "alpha") == 403
        assert status("erin", "alpha") == 200
        assert status("alice", "sql") == 200


def test_the_model_list_spans_engines_shows_aliases_and_only_what_the_key_may_use(
    alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    principals = (keyed("alice"), keyed("carol", models=["team-default"]), keyed("dave", team="ml"))
    with routed_gateway(
        [alpha_engine, beta_engine], *principals, aliases=ALIASES, team_models={"ml": ["beta"]}
    ) as gateway:

        def listed(name: str) -> list[str]:
            answer = httpx.get(f"{gateway}/v1/models", headers=auth(name))
            assert answer.status_code == 200, answer.text
            assert answer.json()["object"] == "list"
            return sorted(m["id"] for m in answer.json()["data"])

        assert listed("alice") == ["alpha", "beta", "beta-sql-lora", "sql", "team-default"]
        assert listed("carol") == ["team-default"]
        assert listed("dave") == ["beta", "team-default"]
        cards = httpx.get(f"{gateway}/v1/models", headers=auth()).json()["data"]
        alias = next(c for c in cards if c["id"] == "team-default")
        assert alias["root"] == "beta" and alias["max_model_len"] == 2048


def test_ready_counts_healthy_engines(
    alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    with routed_gateway([alpha_engine, beta_engine]) as gateway:
        assert httpx.get(f"{gateway}/ready").json()["upstreams_healthy"] == 2
        httpx.post(f"{beta_engine}/fake/control", json={"healthy": False})
        ready = httpx.get(f"{gateway}/ready").json()
        assert ready["upstreams_healthy"] == 1 and ready["upstreams"] == 2
        assert [(e["healthy"], e["models"]) for e in ready["engines"]] == [
            (True, ["alpha"]),
            (False, ["beta", "beta-sql-lora"]),
        ]
        httpx.post(f"{alpha_engine}/fake/control", json={"healthy": False})
        not_ready = httpx.get(f"{gateway}/ready")
        assert not_ready.status_code == 503
        assert error_of(not_ready)["code"] == "not_ready"
