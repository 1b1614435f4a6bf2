"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir of the test's own for in-process `tollgate` commands, with JSON logs."""
    path = clean_env / "data"
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(path))
    monkeypatch.setenv("TOLLGATE_LOG_FORMAT", "json")
    return path
