"""Checks on a model directory, done before vLLM is started so mistakes fail in a second."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.gguf")


class ModelDirError(ValueError):
    """The model directory cannot be served; the message says why and what to do."""


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    architectures: tuple[str, ...]
    model_type: str | None
    max_position_embeddings: int | None
    has_weights: bool
    has_tokenizer: bool

    @property
    def name(self) -> str:
        return self.path.name


def check_model_dir(path: Path) -> ModelInfo:
    """Raise `ModelDirError` unless `path` is a Hugging Face model directory with a config."""
    path = path.expanduser()
    if not path.exists():
        raise ModelDirError(
            f"model directory {path} does not exist "
            "(run `tollgate model prepare` for the default model, or pass --model DIR)"
        )
    if not path.is_dir():
        raise ModelDirError(
            f"{path} is not a directory; --model takes a Hugging Face model directory"
        )
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelDirError(
            f"{path} has no config.json, so it is not a Hugging Face model directory "
            "(expected config.json, tokenizer files and weights, e.g. from save_pretrained)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{config_path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelDirError(f"{config_path} must hold a JSON object")
    max_pos = config.get("max_position_embeddings")
    return ModelInfo(
        path=path.resolve(),
        architectures=tuple(config.get("architectures") or ()),
        model_type=config.get("model_type"),
        max_position_embeddings=max_pos if isinstance(max_pos, int) else None,
        has_weights=any(any(path.glob(p)) for p in WEIGHT_PATTERNS),
        has_tokenizer=any((path / f).is_file() for f in TOKENIZER_FILES),
    )
