"""Chat and text completions: check the body as vLLM does, then answer paced like an engine.

An answer holds one of the engine's slots from admission to its last token. Its first token
comes `ttft_ms` after admission and each later one `itl_ms` after the one before (absolute
deadlines, so pacing does not drift under load). Streams send headers at once, then vLLM's
chunks: the role (chat), one chunk per token with `finish_reason` on the last, a usage chunk
with `choices: []` when `stream_options.include_usage` is set, then `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from services.fake_engine import responses
from services.fake_engine.config import Fault
from services.fake_engine.exchange import Exchange
from services.fake_engine.responses import DONE
from services.fake_engine.state import EngineState
from services.fake_engine.tokens import (
    MAX_TOP_LOGPROBS,
    answer_logprobs,
    answer_text,
    count_tokens,
    render_chat,
)

MAX_CHOICES = 128


class RequestError(Exception):
    """A request the engine refuses, answered in vLLM's error shape."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


@dataclass(slots=True)
class Generation:
    chat: bool
    model: str
    stream: bool
    include_usage: bool
    prompt_tokens: int
    output_tokens: int
    finish: str
    choices: int
    top_logprobs: int | None = None  # None: no log-probabilities asked for


def resolve_model(body: dict[str, Any], models: tuple[str, ...]) -> str:
    model = body.get("model")
    if model is None:
        return models[0]  # vLLM answers a request without a model with its first one
    if not isinstance(model, str) or model not in models:
        raise RequestError(
            404,
            f"The model `{model}` does not exist. Valid aliases: {', '.join(models)}.",
            "model",
        )
    return model


def _positive_int(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"{name} must be an integer, got {value!r}.", name)
    if value < 1:
        raise RequestError(
            400, f"{name} must be at least 1, got {value}. (parameter={name}, value={value})", name
        )
    return value


def _prompts(body: dict[str, Any]) -> list[int]:
    """Token counts of a completion's prompt(s): text, token ids, or a batch of either."""
    prompt = body.get("prompt")
    if isinstance(prompt, str) and prompt:
        return [count_tokens(prompt)]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(item, int) and not isinstance(item, bool) for item in prompt):
            return [len(prompt)]
        if all(isinstance(item, str) and item for item in prompt):
            return [count_tokens(item) for item in prompt]
        if all(isinstance(item, list) and item for item in prompt):
            return [len(item) for item in prompt]
    raise RequestError(
        400,
        "Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)",
        "prompt",
    )


def _top_logprobs(body: dict[str, Any], *, chat: bool) -> int | None:
    """How many alternatives per token a chat asks for; None = no `logprobs` (vLLM's checks)."""
    wanted = body.get("logprobs")
    top = body.get("top_logprobs")
    if not chat or wanted is None or wanted is False:
        if chat and top is not None:
            raise RequestError(
                400,
                "when using `top_logprobs`, `logprobs` must be set to true. "
                "(parameter=top_logprobs)",
                "top_logprobs",
            )
        return None
    if wanted is not True:
        raise RequestError(400, "logprobs must be a boolean.", "logprobs")
    if top is None:
        return 0
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise RequestError(400, "top_logprobs must be a non-negative integer.", "top_logprobs")
    if top > MAX_TOP_LOGPROBS:
        raise RequestError(
            400,
            f"Requested sample logprobs of {top}, which is greater than max allowed: "
            f"{MAX_TOP_LOGPROBS} (parameter=logprobs, value={top})",
            "logprobs",
        )
    return top


def chat_prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise RequestError(400, "messages must be a non-empty list of message objects.", "messages")
    return count_tokens(render_chat(messages, add_generation_prompt=True))


def parse_generation(body: dict[str, Any], *, chat: bool, state: EngineState) -> Generation:
    config = state.config
    model = resolve_model(body, config.models)
    prompt_counts = [chat_prompt_tokens(body)] if chat else _prompts(body)
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise RequestError(400, "stream must be a boolean.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise RequestError(400, "stream_options must be an object.", "stream_options")
    include_usage = bool(stream and options and options.get("include_usage"))
    names = ("max_completion_tokens", "max_tokens") if chat else ("max_tokens",)
    max_tokens: int | None = None
    for name in names:
        max_tokens = _positive_int(body, name, None)
        if max_tokens is not None:
            if max_tokens > config.max_model_len:
                raise RequestError(
                    400,
                    f"{name}={max_tokens} cannot be greater than max_model_len="
                    f"{config.max_model_len}. Please request fewer output tokens. "
                    f"(parameter={name}, value={max_tokens})",
                    name,
                )
            break
    top_logprobs = _top_logprobs(body, chat=chat)
    n = _positive_int(body, "n", 1) or 1
    if n > MAX_CHOICES:
        raise RequestError(400, f"n must be at most {MAX_CHOICES}, got {n}.", "n")
    longest = max(prompt_counts)
    if longest >= config.max_model_len:
        raise RequestError(
            400,
            f"This model's maximum context length is {config.max_model_len} tokens. However, "
            f"your prompt contains at least {longest} input tokens, which exceeds this limit "
            "even without any output tokens. Please reduce the length of the input prompt. "
            f"(parameter=input_tokens, value={longest})",
            "input_tokens",
        )
    room = config.max_model_len - longest
    # Without max_tokens the fake "meets EOS" after the configured length.
    wanted = max_tokens if max_tokens is not None else state.controls.output_tokens
    output = min(wanted, room)
    finish = "length" if max_tokens is not None or output < wanted else "stop"
    return Generation(
        chat=chat,
        model=model,
        stream=bool(stream),
        include_usage=include_usage,
        prompt_tokens=sum(prompt_counts),
        output_tokens=output,
        finish=finish,
        choices=n * len(prompt_counts),
        top_logprobs=top_logprobs,
    )


class _Clock:
    def __init__(self, ttft_ms: float, itl_ms: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self._ttft = ttft_ms / 1000
        self._itl = itl_ms / 1000

    async def token(self, position: int) -> None:
        """Sleep until token `position` (0-based) is due."""
        due = self._start + self._ttft + position * self._itl
        delay = due - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


def _fault_point(fault: Fault | None, kind: str, output_tokens: int) -> int | None:
    """After how many tokens a mid-answer fault strikes (default: half way)."""
    if fault is None or fault.kind != kind:
        return None
    at = fault.arg if fault.arg is not None else max(1, output_tokens // 2)
    return min(at, output_tokens)


async def run_generation(
    ex: Exchange,
    gen: Generation,
    state: EngineState,
    fault: Fault | None,
    ttft_ms: float,
    itl_ms: float,
) -> None:
    stats = state.stats
    stats.prompt_tokens += gen.prompt_tokens
    die_at = _fault_point(fault, "die-mid-stream", gen.output_tokens)
    error_at = _fault_point(fault, "error-mid-stream", gen.output_tokens)
    clock = _Clock(ttft_ms, itl_ms)
    if not gen.stream:
        await clock.token(gen.output_tokens - 1)
        if error_at is not None:
            stats.generation_tokens += error_at * gen.choices
            await ex.json(
                500, responses.error_body(500, "fake fault: the engine failed while generating")
            )
            return
        text = answer_text(gen.output_tokens)
        completion_tokens = gen.output_tokens * gen.choices
        if gen.chat:
            logprobs = (
                None
                if gen.top_logprobs is None
                else answer_logprobs(gen.output_tokens, gen.top_logprobs)
            )
            body = responses.chat_body(
                gen.model,
                text,
                gen.choices,
                gen.finish,
                gen.prompt_tokens,
                completion_tokens,
                logprobs,
            )
        else:
            body = responses.completion_body(
                gen.model, text, gen.choices, gen.finish, gen.prompt_tokens, completion_tokens
            )
        payload = json.dumps(body, separators=(",", ":")).encode()
        if die_at is not None:
            await ex.start_sized(200, len(payload))
            await ex.chunk(payload[: len(payload) // 2])
            await ex.drop()
            return
        stats.generation_tokens += gen.output_tokens * gen.choices
        await ex.respond(200, payload)
        return

    chunks = responses.ChunkTemplates(gen.chat, gen.model)
    await ex.start_stream()
    last = gen.output_tokens - 1
    for position in range(gen.output_tokens):
        await clock.token(position)
        if position == die_at:
            await ex.drop()
            return
        if position == error_at:
            await ex.chunk(responses.sse_error(500, "fake fault: the engine failed mid-stream"))
            await ex.end_stream(DONE)
            return
        parts: list[bytes] = []
        for index in range(gen.choices):
            if position == 0 and gen.chat:
                parts.append(chunks.role(index))
            if position == last:
                parts.append(chunks.last_token(index, position, gen.finish, not gen.include_usage))
            else:
                parts.append(chunks.token(index, position))
        stats.generation_tokens += gen.choices
        await ex.chunk(b"".join(parts))
    if die_at == gen.output_tokens:
        await ex.drop()
        return
    if error_at == gen.output_tokens:
        await ex.chunk(responses.sse_error(500, "fake fault: the engine failed mid-stream"))
        await ex.end_stream(DONE)
        return
    if gen.include_usage:
        await ex.chunk(chunks.usage(gen.prompt_tokens, gen.output_tokens * gen.choices))
    await ex.end_stream(DONE)
