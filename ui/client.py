"""A typed async client for the Tollgate gateway: everything the UI asks, and nothing else.

One client (one connection pool) serves every browser session; the caller's API key travels
with each call instead of living in the client, so sessions never share credentials. Every
failure surfaces as `ui.errors.GatewayError`; keys never appear in its messages.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from shared.schemas.engine import EngineState
from shared.schemas.keys import KeyCreated, KeyInfo, MeInfo
from shared.schemas.usage import KeyUsageReport, UsageRow
from ui import routes
from ui.errors import GatewayError, parse_retry_after
from ui.routes import AnswerT, GatewayRoute
from ui.schemas import (
    Completion,
    ModelCard,
    RenderedPrompt,
    StreamEvent,
    Tokens,
)
from ui.sse import iter_sse_data

# Chat from the UI is a person waiting: the gateway may schedule it ahead of batch traffic.
TIER_HEADER = "x-tollgate-tier"
INTERACTIVE_TIER = "interactive"
# The secret the UI shares with the gateway (settings.ui_token): with it, the gateway lets the
# tier header above raise a chat above its key's own tier. Sent on every call, like a client
# certificate would be; the gateway keeps it from the engine and from its logs.
UI_TOKEN_HEADER = "x-tollgate-ui-token"  # noqa: S105 - a header name
# The engine refuses the render route unless started with --enable-scale-out; these statuses
# mean "this route is not available here", so the prompt is rebuilt through /tokenize.
_RENDER_UNAVAILABLE = frozenset({403, 404, 405, 501})


@dataclass(frozen=True)
class ChatRequest:
    """The chat completion the UI asks for; unset sampling fields keep the engine's defaults."""

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None

    def body(self, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": self.messages, "stream": stream}
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.stop:
            body["stop"] = list(self.stop)
        if self.logprobs:
            body["logprobs"] = True
            if self.top_logprobs is not None:
                body["top_logprobs"] = self.top_logprobs
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body


class GatewayClient:
    """Calls the gateway's pinned routes; construct once per process, close on shutdown."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 300.0,
        max_connections: int = 128,
        transport: httpx.AsyncBaseTransport | None = None,
        ui_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"user-agent": "tollgate-ui"}
        if ui_token:
            headers[UI_TOKEN_HEADER] = ui_token
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            headers=headers,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- key-authenticated routes -------------------------------------------------------------

    async def me(self, key: str) -> MeInfo:
        return await self._call(routes.ME, key)

    async def models(self, key: str) -> list[ModelCard]:
        return (await self._call(routes.MODELS, key)).data

    async def engine(self, key: str) -> EngineState:
        return await self._call(routes.ENGINE, key)

    async def usage(
        self,
        key: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: str = "hour",
    ) -> KeyUsageReport:
        params = {"bucket": bucket}
        if since is not None:
            params["since"] = since.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        return await self._call(routes.MY_USAGE, key, params=params)

    async def tokenize(
        self,
        key: str,
        model: str,
        *,
        text: str | None = None,
        messages: list[dict[str, Any]] | None = None,
    ) -> Tokens:
        body: dict[str, Any] = {"model": model, "return_token_strs": True}
        if messages is not None:
            body |= {"messages": messages, "add_generation_prompt": True}
        else:
            body["prompt"] = text or ""
        return await self._call(routes.TOKENIZE, key, json=body)

    async def detokenize(self, key: str, model: str, tokens: list[int]) -> str:
        body = {"model": model, "tokens": list(tokens)}
        return (await self._call(routes.DETOKENIZE, key, json=body)).prompt

    async def render_prompt(
        self, key: str, model: str, messages: list[dict[str, Any]]
    ) -> RenderedPrompt:
        """The exact prompt the chat template makes of `messages`, as token ids and text."""
        try:
            rendered = await self._call(
                routes.RENDER,
                key,
                json={"model": model, "messages": messages, "add_generation_prompt": True},
            )
            token_ids = rendered.token_ids
            source = "render"
        except GatewayError as exc:
            if exc.status not in _RENDER_UNAVAILABLE or exc.code == "model_not_allowed":
                raise
            token_ids = (await self.tokenize(key, model, messages=messages)).tokens
            source = "tokenize"
        text = await self.detokenize(key, model, token_ids) if token_ids else ""
        return RenderedPrompt(token_ids=token_ids, text=text, source=source)

    async def complete(self, key: str, request: ChatRequest) -> Completion:
        answer = await self._call(
            routes.CHAT,
            key,
            json=request.body(stream=False),
            headers={TIER_HEADER: INTERACTIVE_TIER},
        )
        return answer.reduced()

    async def stream_chat(
        self, key: str, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        """Yield the answer piece by piece. Closing this generator (or cancelling the task that
        iterates it) closes the HTTP stream, which is how the gateway learns to stop."""
        route = routes.CHAT_STREAM
        headers = {**_auth(key), TIER_HEADER: INTERACTIVE_TIER}
        try:
            async with self._http.stream(
                route.method, route.path, json=request.body(stream=True), headers=headers
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error_from_response(response)
                async for data in iter_sse_data(response.aiter_lines()):
                    if data == "[DONE]":
                        return
                    event = _loads(data, response)
                    if isinstance(event, dict) and "error" in event:  # failed after it began
                        raise _stream_error(event, response)
                    yield _read(route, event, response).reduced()
        except httpx.TimeoutException as exc:
            raise GatewayError(504, "no answer from the gateway in time") from exc
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc

    # -- admin routes -------------------------------------------------------------------------

    async def list_keys(self, admin_token: str) -> list[KeyInfo]:
        return (await self._call(routes.LIST_KEYS, admin_token)).data

    async def create_key(self, admin_token: str, spec: Mapping[str, Any]) -> KeyCreated:
        body = {k: v for k, v in spec.items() if v is not None}
        return await self._call(routes.CREATE_KEY, admin_token, json=body)

    async def usage_by_key(self, admin_token: str, *, since: datetime) -> dict[str, UsageRow]:
        """Requests and tokens per key since `since` (GET /admin/usage?group_by=key)."""
        report = await self._call(
            routes.USAGE_REPORT,
            admin_token,
            params={"group_by": "key", "since": since.isoformat()},
        )
        return {row.key_id: row for row in report.data if row.key_id}

    async def revoke_key(self, admin_token: str, key_id: str) -> KeyInfo:
        return await self._call(routes.REVOKE_KEY, admin_token, key_id=key_id)

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(
        self,
        route: GatewayRoute[AnswerT],
        token: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        **path_params: str,
    ) -> AnswerT:
        try:
            response = await self._http.request(
                route.method,
                route.url(**path_params),
                json=json,
                params=params,
                headers={**_auth(token), **(headers or {})},
            )
        except httpx.TimeoutException as exc:
            raise GatewayError(504, "no answer from the gateway in time") from exc
        except httpx.TransportError as exc:
            raise _unreachable(self.base_url, exc) from exc
        if response.status_code >= 400:
            raise _error_from_response(response)
        return _read(route, _loads(response.text, response), response)


def _auth(token: str) -> dict[str, str]:
    # No header at all for an empty token: the gateway then answers "missing key".
    return {"authorization": f"Bearer {token}"} if token else {}


def _unreachable(base_url: str, exc: httpx.TransportError) -> GatewayError:
    # The exception's text names the host and the OS error, never the key (it is a header).
    return GatewayError(0, f"({base_url}: {type(exc).__name__})")


def _loads(text: str, response: httpx.Response) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise GatewayError(
            502,
            "the gateway's answer is not JSON",
            request_id=response.headers.get("x-request-id"),
        ) from None


def _error_from_response(response: httpx.Response) -> GatewayError:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    return GatewayError.from_body(
        response.status_code,
        body,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        request_id=response.headers.get("x-request-id"),
    )


def _stream_error(event: dict[str, Any], response: httpx.Response) -> GatewayError:
    detail = event.get("error")
    code = detail.get("code") if isinstance(detail, dict) else None
    # vLLM puts the HTTP status in `code`; the gateway puts a word there and means 502.
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    return GatewayError.from_body(status, event, request_id=response.headers.get("x-request-id"))


def _read(route: GatewayRoute[AnswerT], body: Any, response: httpx.Response) -> AnswerT:
    """The answer as `route`'s model; one that does not fit is the gateway's fault (502)."""
    try:
        return route.answer.model_validate(body)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"]) or "the body"
        raise GatewayError(
            502,
            f"the gateway's answer to {route.method} {route.path} is not as expected ({where})",
            request_id=response.headers.get("x-request-id"),
        ) from None
