"""vLLM's wire shapes (as served by vLLM 0.32's OpenAI server), built cheaply.

Non-streamed bodies are dicts; streamed chunks are pre-encoded byte templates per request, so
a token costs one bytes join rather than a `json.dumps` (the fake must stay far cheaper than
anything measured against it).
"""

from __future__ import annotations

import json
import os
import time
from http import HTTPStatus
from typing import Any

from services.fake_engine.tokens import ANSWER_PIECES

SYSTEM_FINGERPRINT = "vllm-fake"
_PIECES_JSON = tuple(json.dumps(piece).encode() for piece in ANSWER_PIECES)
DONE = b"data: [DONE]\n\n"


def error_type(status: int) -> str:
    """vLLM names error types after the status: 400 -> BadRequestError, 503 -> ServiceUnavailableError."""
    if status == 400:
        return "BadRequestError"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "Error"
    name = "".join(word.capitalize() for word in phrase.replace("-", " ").split())
    return name if name.endswith("Error") else f"{name}Error"


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": error_type(status), "param": param, "code": status}
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{os.urandom(8).hex()}"


def models_body(models: tuple[str, ...], max_model_len: int, created: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": name,
                "parent": None,
                "max_model_len": max_model_len,
                "permission": [
                    {
                        "id": f"modelperm-{name}",
                        "object": "model_permission",
                        "created": created,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
            for name in models
        ],
    }


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def chat_body(
    model: str,
    text: str,
    choices: int,
    finish: str,
    prompt_tokens: int,
    completion_tokens: int,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": None,
                    "annotations": None,
                    "audio": None,
                    "function_call": None,
                    "tool_calls": [],
                    "reasoning": None,
                },
                "logprobs": None if logprobs is None else {"content": logprobs},
                "finish_reason": finish,
                "stop_reason": None,
                "token_ids": None,
            }
            for index in range(choices)
        ],
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": usage(prompt_tokens, completion_tokens),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "kv_transfer_params": None,
    }


def completion_body(
    model: str, text: str, choices: int, finish: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    return {
        "id": new_id("cmpl"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "text": text,
                "logprobs": None,
                "finish_reason": finish,
                "stop_reason": None,
                "token_ids": None,
                "prompt_logprobs": None,
                "prompt_token_ids": None,
            }
            for index in range(choices)
        ],
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": usage(prompt_tokens, completion_tokens),
        "kv_transfer_params": None,
    }


class ChunkTemplates:
    """The SSE events of one streamed answer, as vLLM sends them."""

    def __init__(self, chat: bool, model: str) -> None:
        self.chat = chat
        self.id = new_id("chatcmpl" if chat else "cmpl")
        self.created = int(time.time())
        self.model = model
        head = json.dumps(
            {
                "id": self.id,
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": self.created,
                "model": model,
            },
            separators=(",", ":"),
        )[:-1].encode()  # without the closing brace, so choices can follow
        self._head = b"data: " + head + b',"choices":[{"index":'
        self._open = b',"delta":{"content":' if chat else b',"text":'
        self._tail = (
            b'},"logprobs":null,"finish_reason":null,"token_ids":null}]}\n\n'
            if chat
            else b',"logprobs":null,"finish_reason":null,"stop_reason":null,'
            b'"prompt_token_ids":null,"token_ids":null}]}\n\n'
        )

    def role(self, index: int) -> bytes:
        return (
            self._head
            + str(index).encode()
            + b',"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],'
            b'"prompt_token_ids":null,"prompt_text":null}\n\n'
        )

    def token(self, index: int, position: int) -> bytes:
        piece = _PIECES_JSON[position % len(_PIECES_JSON)]
        return self._head + str(index).encode() + self._open + piece + self._tail

    def last_token(self, index: int, position: int, finish: str, fingerprint: bool) -> bytes:
        piece = _PIECES_JSON[position % len(_PIECES_JSON)]
        close = b"}" if self.chat else b""
        end = (
            b',"system_fingerprint":"' + SYSTEM_FINGERPRINT.encode() + b'"' if fingerprint else b""
        )
        return (
            self._head
            + str(index).encode()
            + self._open
            + piece
            + close
            + b',"logprobs":null,"finish_reason":"'
            + finish.encode()
            + b'","stop_reason":null,"token_ids":null}]'
            + end
            + b"}\n\n"
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens": completion_tokens,
            },
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def sse_error(status: int, message: str) -> bytes:
    """vLLM's mid-stream error event: the error object as a data line (then `[DONE]`)."""
    return (
        b"data: "
        + json.dumps(error_body(status, message), separators=(",", ":")).encode()
        + b"\n\n"
    )


def metrics_text(
    model: str, running: int, waiting: int, kv_usage: float, prompt_tokens: int, gen_tokens: int
) -> str:
    labels = f'{{engine="0",model_name="{model}"}}'
    series = (
        (
            "num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            running,
        ),
        ("num_requests_waiting", "gauge", "Number of requests waiting to be processed.", waiting),
        ("kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", kv_usage),
        ("prompt_tokens_total", "counter", "Number of prefill tokens processed.", prompt_tokens),
        (
            "generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            gen_tokens,
        ),
    )
    lines: list[str] = []
    for name, kind, help_text, value in series:
        lines += [
            f"# HELP vllm:{name} {help_text}",
            f"# TYPE vllm:{name} {kind}",
            f"vllm:{name}{labels} {float(value)}",
        ]
    return "\n".join(lines) + "\n"
