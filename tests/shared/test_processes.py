"""Child processes start, report readiness, show their last lines and leave no orphan."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready
from tests.conftest import free_port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_http_server_becomes_ready_and_stops() -> None:
    port = free_port()
    server = ManagedProcess(
        "web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], echo=None
    ).start()
    try:
        took = wait_until_ready(f"http://127.0.0.1:{port}/", server, timeout_s=30)
        assert took >= 0
    finally:
        assert server.stop(grace_s=5) is not None
    assert server.poll() is not None


def test_a_child_that_dies_while_starting_is_reported_with_its_output() -> None:
    dying = ManagedProcess(
        "dying",
        [sys.executable, "-c", "print('cannot load model'); raise SystemExit(3)"],
        echo=None,
    ).start()
    with pytest.raises(ProcessExited) as caught:
        wait_until_ready(f"http://127.0.0.1:{free_port()}/", dying, timeout_s=30)
    assert caught.value.code == 3
    dying.wait()
    assert "cannot load model" in dying.last_lines()


def test_ready_timeout_when_nothing_answers() -> None:
    sleeper = ManagedProcess(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], echo=None
    )
    sleeper.start()
    try:
        with pytest.raises(ReadyTimeout):
            wait_until_ready(
                f"http://127.0.0.1:{free_port()}/", sleeper, timeout_s=1, interval_s=0.1
            )
    finally:
        sleeper.stop(grace_s=2)


def test_stop_reaches_grandchildren(tmp_path: Path) -> None:
    """vLLM spawns an engine-core process; stopping the engine must stop it too."""
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    parent = ManagedProcess("parent", [sys.executable, "-c", script], echo=None).start()
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert alive(grandchild)
    parent.stop(grace_s=5)
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_killed_parent_takes_its_child_along(tmp_path: Path) -> None:
    """Even when `tollgate up` is killed with SIGKILL, the engine it started does not stay behind."""
    pid_file = tmp_path / "child.pid"
    repo = str(Path(__file__).resolve().parents[2])
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {repo!r})\n"
        "from shared.processes import ManagedProcess\n"
        "p = ManagedProcess('c', [sys.executable, '-c', 'import time; time.sleep(60)'], echo=None).start()\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    import subprocess

    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
