"""Fixtures shared by every test folder. The real engine is started once per session, lazily."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.processes import ManagedProcess
from shared.settings import Settings
from tests.processes import free_port, gateway_process, run_cli, tollgate_env

__all__ = ["free_port"]  # many suites import it from here


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TOLLGATE_* variable or .env of the developer leaks into a test."""
    for name in list(os.environ):
        if name.startswith("TOLLGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The embedded default model, built once (a quick check when it is already there)."""
    from services.engine.default_model import prepare_default_model

    return prepare_default_model(Settings().default_model_dir).path


@pytest.fixture(scope="session")
def engine_url(default_model_dir: Path) -> Iterator[str]:
    """A real vLLM engine on the default model, shared by every test that needs one.

    If it cannot start, the tests that need it fail with the engine's last log lines; they never skip.
    `TOLLGATE_E2E_ENGINE_URL` points the tests at an engine already running (a developer's, to skip
    the two-minute start); CI never sets it.
    """
    from services.engine.launcher import EngineStartError, plan_engine, start_engine

    if url := os.environ.get("TOLLGATE_E2E_ENGINE_URL"):
        yield url.rstrip("/")
        return

    settings = Settings().with_section(
        "engine", model=default_model_dir, port=free_port(), served_model_name="default"
    )
    plan = plan_engine(settings)
    try:
        process, _took = start_engine(plan, settings.engine.startup_timeout_s, echo=False)
    except EngineStartError as exc:
        pytest.fail(f"{exc}\n--- engine log ---\n{exc.log_tail}", pytrace=False)
    try:
        yield plan.base_url
    finally:
        process.stop()


@dataclass(frozen=True)
class GatewayStack:
    """A real gateway process in front of the session's real engine, with a key and an admin token."""

    gateway_url: str
    engine_url: str
    api_key: str
    admin_token: str
    model: str
    data_dir: Path
    process: ManagedProcess

    def log_lines(self) -> list[str]:
        return list(self.process.tail)


@pytest.fixture(scope="session")
def gateway_stack(
    engine_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayStack]:
    """`tollgate gateway` as users run it (a subprocess), shared by the end-to-end tests."""
    import httpx

    data_dir = tmp_path_factory.mktemp("gateway-stack")
    admin_token = secrets.token_urlsafe(24)
    env = tollgate_env(data_dir, TOLLGATE_ADMIN_TOKEN=admin_token)
    created = run_cli("keys", "create", "--name", "e2e", "--json", env=env)
    if created.returncode != 0:
        pytest.fail(f"tollgate keys create failed:\n{created.stderr}", pytrace=False)
    api_key = json.loads(created.stdout)["key"]
    with gateway_process(
        engine_url, env, grace_s=20, keep_lines=5000, ready_timeout_s=120, interval_s=0.5
    ) as gateway:
        model = httpx.get(f"{engine_url}/v1/models", timeout=30).json()["data"][0]["id"]
        yield GatewayStack(
            gateway.url, engine_url, api_key, admin_token, model, data_dir, gateway.process
        )
