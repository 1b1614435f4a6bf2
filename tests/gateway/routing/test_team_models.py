"""A team's model list, set through `/admin/teams` or `tollgate teams set --models`, binds every
key of the team on the gateway (within the key cache time), next to each key's own list."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from gateway.app import create_app
from services.fake_engine import RunningFakeEngine
from shared.settings import GatewaySettings, KeySettings, Settings
from tests.gateway.limits.support import gateway_env
from tests.gateway.proxy.support import running_gateway, wait_for
from tests.gateway.routing.support import HEALTH_INTERVAL_S, chat
from tests.processes import run_cli

ADMIN = "team-models-admin"


def test_a_teams_model_list_binds_its_keys(
    tmp_path: Path, alpha_engine: RunningFakeEngine, beta_engine: RunningFakeEngine
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        upstreams=[alpha_engine, beta_engine],
        admin_token=ADMIN,
        keys=KeySettings(cache_ttl_s=1),  # team lists reload this often
        gateway=GatewaySettings(health_interval_s=HEALTH_INTERVAL_S),
    )
    admin = {"authorization": f"Bearer {ADMIN}"}
    with running_gateway(create_app(settings)) as gateway:
        made = httpx.post(f"{gateway}/admin/keys", json={"name": "m", "team": "ml"}, headers=admin)
        assert made.status_code == 201, made.text
        key = {"authorization": f"Bearer {made.json()['key']}"}

        def status(model: str) -> int:
            return httpx.post(
                f"{gateway}/v1/chat/completions", json=chat(model), headers=key, timeout=30
            ).status_code

        assert status("alpha") == 200 and status("beta") == 200
        put = httpx.put(f"{gateway}/admin/teams/ml", json={"models": ["alpha"]}, headers=admin)
        assert put.status_code == 201, put.text
        assert put.json()["allowed_models"] == ["alpha"]
        assert wait_for(lambda: status("beta") == 403, timeout_s=10, interval_s=0.2)
        assert status("alpha") == 200
        listed = httpx.get(f"{gateway}/v1/models", headers=key).json()["data"]
        assert [m["id"] for m in listed] == ["alpha"]

        # The CLI writes the same list straight to the database.
        env = gateway_env(tmp_path)
        done = run_cli("teams", "set", "ml", "--models", "beta", "--json", env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["allowed_models"] == ["beta"]
        assert wait_for(lambda: status("alpha") == 403, timeout_s=10, interval_s=0.2)
        assert status("beta") == 200
