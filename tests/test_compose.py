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
            env={
                "POSTGRES_PASSWORD": "x",
                "TOLLGATE_ADMIN_TOKEN": "y",
                "PATH": "/usr/bin:/bin:/usr/local/bin",
            },
        )
        assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(COMPOSE.read_text())
    assert {"engine", "gateway", "lb", "ui", "redis", "postgres"} <= set(spec["services"])


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


def test_the_replicas_sit_behind_one_load_balancer_that_does_not_buffer_streams() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    # Replicas cannot share a host port: only the balancer publishes 8080.
    assert "ports" not in services["gateway"]
    assert services["lb"]["ports"] == ["8080:8080"]
    assert "http://lb:8080" in services["ui"]["command"]
    mount = services["lb"]["volumes"][0].split(":")
    conf = (COMPOSE.parent / mount[0]).read_text()
    assert mount[1] == "/etc/nginx/conf.d/default.conf"
    assert "gateway:8080" in conf and "proxy_buffering off;" in conf
    assert "resolver 127.0.0.11" in conf  # re-resolved: scaled replicas are found


def test_secrets_come_from_the_env_file_never_from_compose_yaml() -> None:
    text = COMPOSE.read_text()
    gateway = yaml.safe_load(text)["services"]["gateway"]
    assert gateway["env_file"][0]["path"] == ".env"
    # Required, so replicas share one admin token and one database password.
    assert gateway["environment"]["TOLLGATE_ADMIN_TOKEN"].startswith("${TOLLGATE_ADMIN_TOKEN:?")
    assert "${POSTGRES_PASSWORD:?" in gateway["environment"]["TOLLGATE_DATABASE_URL"]
    example = (COMPOSE.parent / "deploy" / "tollgate.env.example").read_text()
    # The UI and the gateways share one UI token (its chats run interactive), from .env too.
    ui = yaml.safe_load(text)["services"]["ui"]
    assert gateway["environment"]["TOLLGATE_UI_TOKEN"] == "${TOLLGATE_UI_TOKEN:-}"
    assert ui["environment"]["TOLLGATE_UI_TOKEN"] == "${TOLLGATE_UI_TOKEN:-}"
    for name in ("POSTGRES_PASSWORD", "TOLLGATE_ADMIN_TOKEN", "TOLLGATE_UI_TOKEN"):
        assert f"{name}=" in example
        assert f"{name}: " not in text.replace(f"{name}: ${{{name}", "")  # no literal value


def test_the_engine_reads_its_model_from_a_read_only_volume_on_every_gpu() -> None:
    engine = yaml.safe_load(COMPOSE.read_text())["services"]["engine"]
    assert any(v.endswith(":/models:ro") for v in engine["volumes"])
    assert any(flag.startswith("--model=/models/") for flag in engine["command"])
    assert engine["ipc"] == "host"  # tensor parallel shares memory between GPU workers


def test_the_gateway_and_the_ui_run_images_holding_only_their_own_part() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    for part in ("gateway", "ui"):
        build = services[part]["build"]
        assert build["context"] == "." and build["target"] == part
        assert services[part]["image"] == f"tollgate-{part}:latest"
        stage = dockerfile.split(f" AS {part}\n", 1)[1].split("\nFROM ", 1)[0]
        # The part's install set at the lock's versions (tests/test_images.py starts each
        # part with only that set), and only its own code beside the shared parts.
        assert f"pip install --require-hashes --no-deps -r requirements/{part}.txt" in stage
        other = "ui" if part == "gateway" else "gateway"
        assert f"COPY {part} ./{part}" in stage and f"COPY {other} " not in stage
