"""`tollgate up`'s supervision: all parts start, one failing stops the rest, nothing is left behind."""

from __future__ import annotations

import sys

import pytest

from services.stack import Part, PartFailed, Stack
from tests.conftest import free_port
from tests.shared.test_processes import alive


def web_part(name: str) -> Part:
    port = free_port()
    return Part(
        name,
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}/",
        30.0,
    )


def test_all_parts_start_and_stop_together() -> None:
    stack = Stack([web_part("engine"), web_part("gateway"), web_part("ui")])
    try:
        took = stack.start()
        assert set(took) == {"engine", "gateway", "ui"}
        assert stack.first_exited() is None
        pids = [p.pid for p in stack.processes.values()]
    finally:
        stack.stop()
    assert not any(alive(pid) for pid in pids if pid)


def test_a_part_that_fails_is_named_with_its_output() -> None:
    broken = Part(
        "gateway",
        [sys.executable, "-c", "print('address already in use'); raise SystemExit(1)"],
        f"http://127.0.0.1:{free_port()}/health",
        "",
        30.0,
    )
    stack = Stack([web_part("engine"), broken])
    try:
        with pytest.raises(PartFailed, match="gateway: exited with code 1") as caught:
            stack.start()
        assert "address already in use" in caught.value.log_tail
    finally:
        stack.stop()
