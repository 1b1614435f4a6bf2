"""The fake engine's answers other than generation: models, embeddings, tokenizer, metrics, controls."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from services.fake_engine import responses
from services.fake_engine.config import ControlUpdate
from services.fake_engine.exchange import Exchange
from services.fake_engine.generation import RequestError, chat_prompt_tokens, resolve_model
from services.fake_engine.state import EngineState
from services.fake_engine.tokens import (
    count_tokens,
    embedding,
    embedding_base64,
    render_chat,
)


async def health(ex: Exchange, state: EngineState) -> None:
    if state.controls.healthy:
        await ex.respond(200, b"", [])
    else:
        await ex.json(503, responses.error_body(503, "fake engine marked unhealthy"))


async def metrics(ex: Exchange, state: EngineState) -> None:
    slots = state.slots
    text = responses.metrics_text(
        state.config.models[0],
        slots.running,
        slots.waiting,
        min(1.0, slots.running / max(1, slots.capacity)),
        state.stats.prompt_tokens,
        state.stats.generation_tokens,
    )
    await ex.respond(
        200, text.encode(), [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
    )


async def models(ex: Exchange, state: EngineState) -> None:
    config = state.config
    await ex.json(200, responses.models_body(config.models, config.max_model_len, state.created))


def _embedding_inputs(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(text used to seed the vector, token count) per input."""
    raw = body.get("input")
    if isinstance(raw, str) and raw:
        return [(raw, count_tokens(raw))]
    if isinstance(raw, list) and raw:
        if all(isinstance(item, int) and not isinstance(item, bool) for item in raw):
            return [(repr(raw), len(raw))]
        if all(isinstance(item, str) and item for item in raw):
            return [(item, count_tokens(item)) for item in raw]
        if all(isinstance(item, list) and item for item in raw):
            return [(repr(item), len(item)) for item in raw]
    raise RequestError(
        400, "input must be a non-empty string, list of strings or token ids.", "input"
    )


async def embeddings(ex: Exchange, state: EngineState, body: dict[str, Any]) -> None:
    model = resolve_model(body, state.config.models)
    inputs = _embedding_inputs(body)
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise RequestError(400, "encoding_format must be 'float' or 'base64'.", "encoding_format")
    dim = body.get("dimensions") or state.config.embedding_dim
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 8192:
        raise RequestError(400, "dimensions must be an integer from 1 to 8192.", "dimensions")
    for _text, tokens in inputs:
        if tokens > state.config.max_model_len:
            raise RequestError(
                400,
                f"This model's maximum context length is {state.config.max_model_len} tokens. "
                f"However, you requested {tokens} tokens in the input for embedding generation. "
                "Please reduce the length of the input.",
                "input",
            )
    data = []
    for index, (text, _tokens) in enumerate(inputs):
        vector = embedding(text, dim)
        data.append(
            {
                "index": index,
                "object": "embedding",
                "embedding": embedding_base64(vector) if fmt == "base64" else vector,
            }
        )
    prompt_tokens = sum(tokens for _text, tokens in inputs)
    state.stats.prompt_tokens += prompt_tokens
    await ex.json(
        200,
        {
            "id": responses.new_id("embd"),
            "object": "list",
            "created": state.created,
            "model": model,
            "data": data,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens,
                "completion_tokens": 0,
                "prompt_tokens_details": None,
            },
        },
    )


def _tokenize_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        chat_prompt_tokens(body)  # the same checks as a chat request
        return render_chat(
            body["messages"],
            add_generation_prompt=body.get("add_generation_prompt", True) is not False,
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise RequestError(400, "prompt must be a string (or give messages).", "prompt")
    return prompt


async def tokenize(ex: Exchange, state: EngineState, body: dict[str, Any]) -> None:
    resolve_model(body, state.config.models)
    ids, pieces = state.vocab.encode(_tokenize_text(body))
    await ex.json(
        200,
        {
            "count": len(ids),
            "max_model_len": state.config.max_model_len,
            "tokens": ids,
            "token_strs": pieces if body.get("return_token_strs") else None,
        },
    )


async def detokenize(ex: Exchange, state: EngineState, body: dict[str, Any]) -> None:
    resolve_model(body, state.config.models)
    tokens = body.get("tokens")
    if not isinstance(tokens, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in tokens
    ):
        raise RequestError(400, "tokens must be a list of integers.", "tokens")
    await ex.json(200, {"prompt": state.vocab.decode(tokens)})


async def render(ex: Exchange, state: EngineState, body: dict[str, Any]) -> None:
    """vLLM's `GenerateRequest`: the prompt's token ids after the chat template, and sampling."""
    model = resolve_model(body, state.config.models)
    chat_prompt_tokens(body)
    ids, _pieces = state.vocab.encode(render_chat(body["messages"]))
    await ex.json(
        200,
        {
            "request_id": responses.new_id("render"),
            "token_ids": ids,
            "token_offsets": None,
            "features": None,
            "content_parts": None,
            "sampling_params": {
                "n": body.get("n", 1),
                "temperature": body.get("temperature", 1.0),
                "top_p": body.get("top_p", 1.0),
                "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens"),
            },
            "model": model,
            "stream": bool(body.get("stream", False)),
            "stream_options": body.get("stream_options"),
        },
    )


async def stats(ex: Exchange, state: EngineState) -> None:
    query = parse_qs(ex.scope.get("query_string", b"").decode("latin-1"))
    path = query.get("path", [None])[0]
    seen = state.stats.as_dict(state.slots, path)
    await ex.json(200, {**seen, "controls": state.controls.as_dict()})


async def control(ex: Exchange, state: EngineState, raw: bytes) -> None:
    if ex.scope["method"] == "POST":
        try:
            update = ControlUpdate.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors()
            )
            await ex.json(400, responses.error_body(400, f"invalid control: {problems}"))
            return
        state.controls.apply(update)
        state.slots.resize(state.controls.capacity)
    await ex.json(200, state.controls.as_dict())


async def reset(ex: Exchange, state: EngineState) -> None:
    state.reset()
    await ex.json(200, state.controls.as_dict())


def decode_json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"JSON decode error: {exc}", "body") from None
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object.", "body")
    return body
