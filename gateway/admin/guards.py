"""The admin guard: `Authorization: Bearer <admin token>`, compared in constant time.

With no token configured every admin route answers 503 `admin_disabled`, saying how to set
one, instead of being open or crashing. The composition root builds one `AdminGuard` and puts
every admin controller under `admin_router(guard, ...)`, the only way they are served.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import ControllerRouterHandler
from pydantic import SecretStr

from gateway.errors import AdminDisabled, AuthenticationFailed
from gateway.keys.dependencies import FailedAuthLimit


class AdminAuth:
    def __init__(self, token: SecretStr | None) -> None:
        self._token = token.get_secret_value().encode() if token is not None else None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def check(self, authorization: str | None) -> None:
        if self._token is None:
            raise AdminDisabled(
                "The admin API is disabled: no admin token is configured. Set "
                "TOLLGATE_ADMIN_TOKEN (or run `tollgate up` once, which generates "
                "DATA_DIR/admin-token) and restart the gateway."
            )
        scheme, _, presented = (authorization or "").strip().partition(" ")
        if not authorization:
            raise AuthenticationFailed(
                "Missing admin token: send 'Authorization: Bearer $TOLLGATE_ADMIN_TOKEN'.",
                code="missing_admin_token",
            )
        if scheme.lower() != "bearer" or not presented.strip():
            raise AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <admin token>'.",
                code="invalid_admin_token",
            )
        if not hmac.compare_digest(presented.strip().encode(), self._token):
            raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")


AdminGuard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def admin_guard(auth: AdminAuth, throttle: FailedAuthLimit | None = None) -> AdminGuard:
    """The Litestar guard of every `/admin` route. A function, not an object: Litestar
    deep-copies routers when they are registered, and functions are copied as they are."""

    async def require_admin(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        authorization = connection.headers.get("authorization")
        # Wrong admin tokens count against the same per-address limit as wrong API keys, so
        # the token cannot be guessed faster than a key.
        limit = throttle if authorization else None
        address = connection.client.host if connection.client else None
        if limit is not None:
            limit.check(address)
        try:
            auth.check(authorization)
        except AuthenticationFailed:
            if limit is not None:
                await limit.failed(address)
            raise

    return require_admin


def admin_router(
    guard: AdminGuard, handlers: list[ControllerRouterHandler], **options: Any
) -> Router:
    """`handlers` (admin controllers, paths under /admin) behind `guard`; `options` go to the
    Router (its `dependencies`)."""
    return Router(path="/", route_handlers=handlers, guards=[guard], **options)
