import json
from pathlib import Path

import pytest

from services.engine.model_dir import ModelDirError, check_model_dir


def test_missing_directory_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match="does not exist.*tollgate model prepare"):
        check_model_dir(tmp_path / "nope")


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"x")
    with pytest.raises(ModelDirError, match="not a directory"):
        check_model_dir(tmp_path / "model.gguf")


def test_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match="no config.json"):
        check_model_dir(tmp_path)


def test_broken_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelDirError, match="not valid JSON"):
        check_model_dir(tmp_path)


def test_good_directory_is_described(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["Qwen3ForCausalLM"],
                "model_type": "qwen3",
                "max_position_embeddings": 40960,
            }
        )
    )
    (tmp_path / "tokenizer.json").write_text("{}")
    info = check_model_dir(tmp_path)
    assert info.architectures == ("Qwen3ForCausalLM",)
    assert info.max_position_embeddings == 40960
    assert info.has_tokenizer and not info.has_weights
