"""Plain transformers `generate` against a running vLLM engine: the same model shape, the same
prompts (the same token ids), the same answer length, one request at a time.

It checks the seed project's claim ("vLLM answers in 200-500 ms per request where plain
transformers `generate` took 2-3 s"). With `--dummy` the transformers model gets random
weights from the config, as vLLM's `--load-format dummy` does: the time per token depends on
the shapes, not on the values, and both sides are forced to the full answer length
(`min_new_tokens` here, `ignore_eos` there), so the timing is that of the real model.

    python3 -m services.bench.gpu_transformers --model-dir /tmp/stage/model --dummy \
        --engine-url http://127.0.0.1:8000 --served-model qwen3-1.7b-shape --out tf.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from services.bench.workload import _WORDS


def make_prompts(tokenizer: Any, count: int, tokens: int, seed: int) -> list[list[int]]:
    """`count` prompts of exactly `tokens` token ids, from random common words."""
    rng = random.Random(seed)  # noqa: S311 - prompt text, not secrets
    prompts = []
    for _ in range(count):
        text = " ".join(rng.choice(_WORDS) for _ in range(tokens * 2))
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:tokens]
        prompts.append(list(ids))
    return prompts


def summary(latencies_s: list[float], output_tokens: int) -> dict[str, float]:
    ms = sorted(1000 * t for t in latencies_s)
    return {
        "requests": len(ms),
        "mean_ms": round(statistics.fmean(ms), 1),
        "p50_ms": round(statistics.median(ms), 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
        "output_tokens_per_s": round(output_tokens * len(ms) / (sum(ms) / 1000), 1),
    }


def time_transformers(
    model_dir: Path, dummy: bool, prompts: list[list[int]], output_tokens: int, warmup: int
) -> tuple[list[float], dict[str, Any]]:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model: Any
    if dummy:
        config = AutoConfig.from_pretrained(model_dir)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config)
        model = model.to(dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        model = model.to(torch.device(device))
    model.eval()

    def one(model: Any, ids: list[int]) -> float:
        input_ids = torch.tensor([ids], device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=output_tokens,
                min_new_tokens=output_tokens,
                do_sample=False,
                pad_token_id=0,
            )
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        assert out.shape[1] - input_ids.shape[1] == output_tokens, "short answer"
        return elapsed

    for ids in prompts[:warmup]:
        one(model, ids)
    latencies = [one(model, ids) for ids in prompts]
    info = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "dtype": str(dtype),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "weights": "random (from config)" if dummy else "from model dir",
    }
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return latencies, info


def time_engine(
    url: str, model: str, prompts: list[list[int]], output_tokens: int, warmup: int
) -> list[float]:
    """One non-streamed /v1/completions request at a time, the prompt given as token ids."""
    with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:

        def one(ids: list[int]) -> float:
            body = {
                "model": model,
                "prompt": ids,
                "max_tokens": output_tokens,
                "ignore_eos": True,
                "temperature": 0,
            }
            started = time.perf_counter()
            response = client.post("/v1/completions", json=body)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            got = response.json()["usage"]["completion_tokens"]
            assert got == output_tokens, f"engine gave {got} tokens"
            return elapsed

        for ids in prompts[:warmup]:
            one(ids)
        return [one(ids) for ids in prompts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--dummy", action="store_true", help="random weights from config.json")
    parser.add_argument("--engine-url", default="http://127.0.0.1:8000")
    parser.add_argument("--served-model", required=True)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--output-tokens", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    prompts = make_prompts(tokenizer, args.prompts, args.prompt_tokens, args.seed)
    engine = time_engine(
        args.engine_url, args.served_model, prompts, args.output_tokens, args.warmup
    )
    local, info = time_transformers(
        args.model_dir, args.dummy, prompts, args.output_tokens, args.warmup
    )
    result = {
        "prompt_tokens": args.prompt_tokens,
        "output_tokens": args.output_tokens,
        "prompts": args.prompts,
        "warmup": args.warmup,
        "transformers": summary(local, args.output_tokens) | info,
        "vllm": summary(engine, args.output_tokens) | {"url": args.engine_url},
        "transformers_ms": [round(1000 * t, 1) for t in local],
        "vllm_ms": [round(1000 * t, 1) for t in engine],
    }
    result["speedup_p50"] = round(result["transformers"]["p50_ms"] / result["vllm"]["p50_ms"], 2)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
