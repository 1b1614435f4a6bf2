"""Litestar dependencies: the calling key (`principal`) and the services built at start-up."""

from __future__ import annotations

from typing import Any, Protocol

from litestar import Request
from litestar.datastructures import State

from gateway.errors import AuthenticationFailed
from gateway.keys import errors
from gateway.keys.principal import KeyPrincipal
from gateway.keys.service import KeyService
from gateway.keys.store import KeyStore
from gateway.observability.context import bind_principal
from gateway.tracing import span


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
    """Limits failed authentications per client address (gateway/limits puts one on app state
    as `auth_throttle`): `check` refuses a blocked address with 429 before its key is looked
    at, `failed` counts a failure (and answers 429 instead of 401 past the limit)."""

    def check(self, address: str | None) -> None: ...

    async def failed(self, address: str | None) -> None: ...


async def provide_principal(request: Request[Any, Any, Any]) -> KeyPrincipal:
    store: KeyStore = request.app.state.key_store
    headers = request.headers
    authorization, x_api_key = headers.get("authorization"), headers.get("x-api-key")
    throttle: FailedAuthLimit | None = None
    address = request.client.host if request.client else None
    if authorization or x_api_key:  # only presented keys are guesses
        throttle = request.app.state.get("auth_throttle")
        if throttle is not None:
            throttle.check(address)
    try:
        with span("tollgate.auth"):
            principal = await store.authenticate(presented_key(authorization, x_api_key))
    except AuthenticationFailed:
        if throttle is not None:
            await throttle.failed(address)
        raise
    bind_principal(request.scope, principal)  # the request's log line names the key
    return principal


def provide_key_service(state: State) -> KeyService:
    service: KeyService = state.key_service
    return service
