"""compose.yaml describes the production shape; validated by docker compose when it is there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[1] / "compose.yaml"


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


def test_compose_file_is_valid() -> None:
    if docker_compose_available():
        result = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"POSTGRES_PASSWORD": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
        assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(COMPOSE.read_text())
    assert {"engine", "gateway", "ui", "redis", "postgres"} <= set(spec["services"])


def test_engine_runs_vllm_with_the_original_flags() -> None:
    engine = yaml.safe_load(COMPOSE.read_text())["services"]["engine"]
    assert engine["image"].startswith("vllm/vllm-openai")
    flags = " ".join(engine["command"])
    for flag in (
        "--port=8000",
        "--gpu-memory-utilization=0.8",
        "--max-model-len=2048",
        "--trust-remote-code",
    ):
        assert flag in flags
    assert engine["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_every_service_has_a_health_check_and_restarts() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name


def test_gateways_share_postgres_and_redis() -> None:
    gateway = yaml.safe_load(COMPOSE.read_text())["services"]["gateway"]
    env = gateway["environment"]
    assert env["TOLLGATE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["TOLLGATE_REDIS_URL"].startswith("redis://")
    assert gateway["deploy"]["replicas"] >= 2
