"""The admin guard: `Authorization: Bearer <admin token>`, compared in constant time.

With no token configured every admin route answers 503 `admin_disabled`, saying how to set
one, instead of being open or crashing. Admin controllers get the guard by subclassing
`gateway.admin.base.AdminController`.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from pydantic import SecretStr

from gateway.errors import AdminDisabled, AuthenticationFailed
from gateway.keys.dependencies import FailedAuthLimit

STATE_KEY = "admin_auth"


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


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    auth: AdminAuth | None = connection.app.state.get(STATE_KEY)
    authorization = connection.headers.get("authorization")
    # Wrong admin tokens count against the same per-address limit as wrong API keys, so the
    # token cannot be guessed faster than a key.
    throttle: FailedAuthLimit | None = connection.app.state.get("auth_throttle")
    address = connection.client.host if connection.client else None
    if throttle is not None and authorization:
        throttle.check(address)
    try:
        (auth or AdminAuth(None)).check(authorization)
    except AuthenticationFailed:
        if throttle is not None and authorization:
            await throttle.failed(address)
        raise
