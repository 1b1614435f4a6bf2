"""The `principal` dependency: who is calling, from the key presented (or a clear 401/429)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from litestar import Request

from gateway.errors import AuthenticationFailed
from gateway.keys import errors
from gateway.keys.principal import KeyPrincipal
from gateway.keys.store import KeyStore
from gateway.observability.context import bind_principal
from gateway.tracing import span

# What the composition root provides as `principal`: the key store's check, or a test's table.
Authenticate = Callable[[Request[Any, Any, Any]], Awaitable[KeyPrincipal]]


def presented_key(authorization: str | None, x_api_key: str | None = None) -> str | None:
    """The key from `Authorization: Bearer …`, or from `x-api-key` (what Anthropic's SDK
    sends to /v1/messages). None when neither header carries one."""
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise errors.malformed_authorization()
        return credentials.strip() or None
    return x_api_key.strip() if x_api_key else None


class FailedAuthLimit(Protocol):
    """Limits failed authentications per client address (gateway/limits' `AuthThrottle`):
    `check` refuses a blocked address with 429 before its key is looked at, `failed` counts a
    failure (and answers 429 instead of 401 past the limit)."""

    def check(self, address: str | None) -> None: ...

    async def failed(self, address: str | None) -> None: ...


class KeyAuthentication:
    """The presented key checked against the key store, failures counted per address."""

    def __init__(self, store: KeyStore, throttle: FailedAuthLimit | None = None) -> None:
        self._store = store
        self._throttle = throttle

    async def principal(self, request: Request[Any, Any, Any]) -> KeyPrincipal:
        headers = request.headers
        authorization, x_api_key = headers.get("authorization"), headers.get("x-api-key")
        throttle: FailedAuthLimit | None = None
        address = request.client.host if request.client else None
        if authorization or x_api_key:  # only presented keys are guesses
            throttle = self._throttle
            if throttle is not None:
                throttle.check(address)
        try:
            with span("tollgate.auth"):
                principal = await self._store.authenticate(presented_key(authorization, x_api_key))
        except AuthenticationFailed:
            if throttle is not None:
                await throttle.failed(address)
            raise
        bind_principal(request.scope, principal)  # the request's log line names the key
        return principal
