"""A small fake of the Tollgate gateway's pinned HTTP interface, for the UI's tests.

Fixed data, OpenAI-style SSE streams and OpenAI-shaped errors. The last user message steers a
chat: `[429]`, `[502]`, `[503]`, `[504]`, `[too long]`, `[midfail]` (fails after a few tokens)
and `[slow]` (a long, slow stream, to stop it midway). With `engine_url` set, the model routes
are proxied to a real vLLM engine instead (for manual checks and browser tests).

    state = FakeGatewayState()
    with serve(create_fake_gateway(state)) as url: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.conftest import free_port

GOOD_KEY = "tg-good-key-0123456789abcdef"
LIMITED_KEY = "tg-limited-key-0123456789ab"
EXPIRED_KEY = "tg-expired-key-0123456789ab"
REVOKED_KEY = "tg-revoked-key-0123456789ab"
ADMIN_TOKEN = "admin-secret-token"
MODEL = "fake-model"
MAX_MODEL_LEN = 2048

_WORDS = re.compile(r"\s?[^\s]+|\s+")


def me_body(key_id: str = "key_0001", name: str = "alice") -> dict[str, Any]:
    return {
        "id": key_id,
        "name": name,
        "team": "data",
        "prefix": "tg-good",
        "tier": "standard",
        "allowed_models": None,
        "expires_at": None,
        "limits": {
            "rpm": 60,
            "tpm": 100000,
            "max_concurrency": 4,
            "daily_tokens": 50000,
            "monthly_tokens": None,
        },
        "remaining": {
            "requests": {"limit": 60, "remaining": 58, "reset_seconds": 2.0, "scope": "key"},
            "tokens": {"limit": 100000, "remaining": 99000, "reset_seconds": 2.0, "scope": "key"},
            "concurrency": {"limit": 4, "remaining": 4, "reset_seconds": 0.0, "scope": "key"},
            "daily_tokens": {
                "limit": 50000,
                "remaining": 49000,
                "reset_seconds": 3600.0,
                "scope": "key",
            },
            "monthly_tokens": None,
        },
    }


@dataclass
class FakeGatewayState:
    """What the fake serves and what it saw; tests read and change it between requests."""

    engine_url: str | None = None
    usage_enabled: bool = True
    render_enabled: bool = False  # vLLM refuses /render unless started with --enable-scale-out
    slow_token_s: float = 0.05
    requests: list[dict[str, Any]] = field(default_factory=list)
    streams_started: int = 0
    streams_finished: int = 0
    streams_cancelled: int = 0
    stream_cancelled: threading.Event = field(default_factory=threading.Event)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Back to the defaults, between tests that share one running fake."""
        fresh = FakeGatewayState(engine_url=self.engine_url)
        for name in (
            "usage_enabled",
            "render_enabled",
            "slow_token_s",
            "streams_started",
            "streams_finished",
            "streams_cancelled",
        ):
            setattr(self, name, getattr(fresh, name))
        self.requests.clear()
        self.keys.clear()
        self.stream_cancelled.clear()

    def token_id(self, piece: str) -> int:
        return self.vocab.setdefault(piece, 1000 + len(self.vocab))

    def piece(self, token_id: int) -> str:
        return next((p for p, i in self.vocab.items() if i == token_id), "")


def _error(status: int, message: str, type_: str, code: Any = None, **headers: str) -> Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else ""


def _key_error(key: str) -> Response | None:
    if not key:
        return _error(
            401,
            "Missing API key: send Authorization: Bearer tg-…",
            "authentication_error",
            "invalid_api_key",
        )
    if key == EXPIRED_KEY:
        return _error(
            401, "This API key expired on 2026-01-01.", "authentication_error", "invalid_api_key"
        )
    if key == REVOKED_KEY:
        return _error(
            401, "This API key has been revoked.", "authentication_error", "invalid_api_key"
        )
    if key not in (GOOD_KEY, LIMITED_KEY):
        return _error(401, "Invalid API key.", "authentication_error", "invalid_api_key")
    return None


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _chunk(
    text: str | None = None, finish: str | None = None, usage: dict[str, int] | None = None
) -> str:
    choices = (
        []
        if usage
        else [
            {
                "index": 0,
                "delta": {"content": text} if text is not None else {},
                "finish_reason": finish,
            }
        ]
    )
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": choices,
    }
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


def create_fake_gateway(state: FakeGatewayState) -> Starlette:
    proxy = httpx.AsyncClient(base_url=state.engine_url, timeout=300) if state.engine_url else None

    async def record(request: Request) -> dict[str, Any]:
        body: Any = None
        if request.method in ("POST", "PATCH"):
            raw = await request.body()
            body = json.loads(raw) if raw else None
        entry = {
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "body": body,
            "query": dict(request.query_params),
        }
        state.requests.append(entry)
        return entry

    async def authed(request: Request) -> tuple[dict[str, Any], Response | None]:
        entry = await record(request)
        return entry, _key_error(_bearer(request))

    async def forward(request: Request, body: Any) -> Response:
        assert proxy is not None
        upstream = proxy.build_request(request.method, request.url.path, json=body)
        response = await proxy.send(upstream, stream=True)
        if not (body or {}).get("stream"):
            content = await response.aread()
            await response.aclose()
            return Response(
                content, status_code=response.status_code, media_type="application/json"
            )

        async def relay() -> AsyncIterator[bytes]:
            state.streams_started += 1
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
                state.streams_finished += 1
            except (asyncio.CancelledError, GeneratorExit):
                state.streams_cancelled += 1
                state.stream_cancelled.set()
                raise
            finally:
                await response.aclose()

        return StreamingResponse(
            relay(), status_code=response.status_code, media_type="text/event-stream"
        )

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def me(request: Request) -> Response:
        _entry, problem = await authed(request)
        if problem:
            return problem
        key = _bearer(request)
        return JSONResponse(me_body("key_0002", "bob") if key == LIMITED_KEY else me_body())

    async def models(request: Request) -> Response:
        _entry, problem = await authed(request)
        if problem:
            return problem
        if proxy is not None:
            return await forward(request, None)
        card = {
            "id": MODEL,
            "object": "model",
            "created": 1700000000,
            "owned_by": "tollgate",
            "root": "/models/fake",
            "max_model_len": MAX_MODEL_LEN,
        }
        return JSONResponse({"object": "list", "data": [card]})

    async def engine(request: Request) -> Response:
        _entry, problem = await authed(request)
        if problem:
            return problem
        upstream = {
            "name": state.engine_url or "http://127.0.0.1:8000",
            "healthy": True,
            "models": [MODEL],
            "requests_running": 1,
            "requests_waiting": 0,
            "kv_cache_usage": 0.125,
            "prompt_tokens_per_s": 250.0,
            "generation_tokens_per_s": 42.5,
        }
        return JSONResponse({"upstreams": [upstream], "sampled_at": datetime.now(UTC).isoformat()})

    async def usage(request: Request) -> Response:
        entry, problem = await authed(request)
        if problem:
            return problem
        if not state.usage_enabled:
            return _error(404, "Not found", "not_found_error")
        bucket = entry["query"].get("bucket", "hour")
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        buckets = [
            {
                "start": (now - step * i).isoformat(),
                "requests": 3 + i,
                "prompt_tokens": 100 * (i + 1),
                "completion_tokens": 40 * (i + 1),
                "errors": i % 2,
            }
            for i in range(3)
        ]
        totals = {
            k: sum(b[k] for b in buckets)
            for k in ("requests", "prompt_tokens", "completion_tokens")
        }
        return JSONResponse(
            {"key_id": "key_0001", "bucket": bucket, "buckets": buckets, "totals": totals}
        )

    async def tokenize(request: Request) -> Response:
        entry, problem = await authed(request)
        if problem:
            return problem
        if proxy is not None:
            return await forward(request, entry["body"])
        body = entry["body"] or {}
        if "messages" in body:
            text = (
                "".join(
                    f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in body["messages"]
                )
                + "<|im_start|>assistant\n"
            )
        else:
            text = body.get("prompt", "")
        pieces = _WORDS.findall(text)
        ids = [state.token_id(p) for p in pieces]
        strs = [p.replace(" ", "Ġ").replace("\n", "Ċ") for p in pieces]
        return JSONResponse(
            {"count": len(ids), "max_model_len": MAX_MODEL_LEN, "tokens": ids, "token_strs": strs}
        )

    async def detokenize(request: Request) -> Response:
        entry, problem = await authed(request)
        if problem:
            return problem
        if proxy is not None:
            return await forward(request, entry["body"])
        tokens = (entry["body"] or {}).get("tokens", [])
        return JSONResponse({"prompt": "".join(state.piece(t) for t in tokens)})

    async def render(request: Request) -> Response:
        entry, problem = await authed(request)
        if problem:
            return problem
        if proxy is not None:
            return await forward(request, entry["body"])
        if not state.render_enabled:
            return _error(
                403,
                "Scale-out endpoints are disabled. Restart vllm serve with --enable-scale-out to enable them.",
                "PermissionDeniedError",
                403,
            )
        body = entry["body"] or {}
        text = (
            "".join(
                f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in body["messages"]
            )
            + "<|im_start|>assistant\n"
        )
        return JSONResponse(
            {"request_id": "r", "token_ids": [state.token_id(p) for p in _WORDS.findall(text)]}
        )

    async def chat(request: Request) -> Response:
        entry, problem = await authed(request)
        if problem:
            return problem
        body = entry["body"] or {}
        if proxy is not None:
            return await forward(request, body)
        prompt = _last_user(body.get("messages", []))
        if _bearer(request) == LIMITED_KEY or "[429]" in prompt:
            return _error(
                429,
                "Rate limit reached: 60 requests per minute.",
                "rate_limit_error",
                "rate_limit_exceeded",
                **{"retry-after": "7"},
            )
        for status, type_, code in (
            (502, "upstream_error", "bad_gateway"),
            (503, "upstream_unavailable", "engine_unavailable"),
            (504, "upstream_timeout", "engine_timeout"),
        ):
            if f"[{status}]" in prompt:
                return _error(status, "No engine could answer.", type_, code)
        if "[too long]" in prompt:
            return _error(
                400,
                "This model's maximum context length is 2048 tokens. However, you requested 4000 tokens.",
                "BadRequestError",
                400,
            )
        words = (
            [f"Echo: {prompt}", " — ", "**fine**", " thanks."]
            if "[slow]" not in prompt
            else [f" w{i}" for i in range(400)]
        )
        if not body.get("stream"):
            text = "".join(words)
            logprobs = None
            if body.get("logprobs"):
                content = [
                    {
                        "token": w,
                        "logprob": -0.1 * (i + 1),
                        "bytes": list(w.encode()),
                        "top_logprobs": [
                            {"token": w, "logprob": -0.1 * (i + 1)},
                            {"token": " other", "logprob": -2.5},
                        ],
                    }
                    for i, w in enumerate(words)
                ]
                logprobs = {"content": content}
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "logprobs": logprobs,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 12,
                        "completion_tokens": len(words),
                        "total_tokens": 12 + len(words),
                    },
                }
            )

        async def events() -> AsyncIterator[str]:
            state.streams_started += 1
            try:
                yield _chunk("")
                for i, word in enumerate(words):
                    if "[midfail]" in prompt and i == 2:
                        err = {
                            "error": {
                                "message": "The engine stopped answering.",
                                "type": "upstream_error",
                                "param": None,
                                "code": "bad_gateway",
                            }
                        }
                        yield f"data: {json.dumps(err)}\n\n"
                        return
                    if "[slow]" in prompt:
                        await asyncio.sleep(state.slow_token_s)
                    yield _chunk(word)
                yield _chunk(None, "stop")
                yield _chunk(
                    usage={
                        "prompt_tokens": 12,
                        "completion_tokens": len(words),
                        "total_tokens": 12 + len(words),
                    }
                )
                yield "data: [DONE]\n\n"
                state.streams_finished += 1
            except (asyncio.CancelledError, GeneratorExit):
                state.streams_cancelled += 1
                state.stream_cancelled.set()
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    def admin_error(request: Request) -> Response | None:
        if _bearer(request) != ADMIN_TOKEN:
            return _error(
                401, "Invalid admin token.", "authentication_error", "invalid_admin_token"
            )
        return None

    def key_info(key_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        limits = {
            k: spec.get(k)
            for k in ("rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_tokens")
        }
        return {
            "id": key_id,
            "name": spec["name"],
            "team": spec.get("team"),
            "prefix": "tg-" + key_id[-6:],
            "tier": spec.get("tier") or "standard",
            "created_at": datetime.now(UTC).isoformat(),
            "last_used_at": None,
            "expires_at": None,
            "revoked": False,
            "revoked_at": None,
            "allowed_models": spec.get("models"),
            "limits": limits,
        }

    async def admin_keys(request: Request) -> Response:
        entry = await record(request)
        if (problem := admin_error(request)) is not None:
            return problem
        if request.method == "GET":
            return JSONResponse({"data": list(state.keys.values())})
        spec = entry["body"] or {}
        if not spec.get("name"):
            return _error(422, "name is required", "invalid_request_error", None)
        key_id = f"key_{uuid.uuid4().hex[:12]}"
        state.keys[key_id] = key_info(key_id, spec)
        return JSONResponse(
            {**state.keys[key_id], "key": f"tg-{uuid.uuid4().hex}"}, status_code=201
        )

    async def admin_usage(request: Request) -> Response:
        await record(request)
        if (problem := admin_error(request)) is not None:
            return problem
        if not state.usage_enabled:
            return _error(404, "Not found", "not_found_error")
        rows = [
            {"key_id": key_id, "requests": 5, "errors": 1, "total_tokens": 1234}
            for key_id in state.keys
        ]
        return JSONResponse({"group_by": ["key"], "data": rows})

    async def admin_key(request: Request) -> Response:
        await record(request)
        if (problem := admin_error(request)) is not None:
            return problem
        info = state.keys.get(request.path_params["key_id"])
        if info is None:
            return _error(404, "No such key.", "not_found_error")
        info.update(revoked=True, revoked_at=datetime.now(UTC).isoformat())
        return JSONResponse(info)

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/tollgate/me", me),
            Route("/tollgate/engine", engine),
            Route("/tollgate/usage", usage),
            Route("/v1/models", models),
            Route("/tokenize", tokenize, methods=["POST"]),
            Route("/detokenize", detokenize, methods=["POST"]),
            Route("/v1/chat/completions/render", render, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/admin/keys", admin_keys, methods=["GET", "POST"]),
            Route("/admin/usage", admin_usage),
            Route("/admin/keys/{key_id}", admin_key, methods=["DELETE"]),
        ]
    )
    return _with_request_id(app)


def _with_request_id(app: Any) -> Any:
    """Every answer carries x-request-id, as the real gateway's do."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"x-request-id", uuid.uuid4().hex.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_id if scope["type"] == "http" else send)

    return wrapped


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
