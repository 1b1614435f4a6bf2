"""Every error the gateway answers with, as one exception tree rendered in OpenAI's shape.

GatewayError
├── InvalidRequest            400  invalid_request_error
├── AuthenticationFailed      401  authentication_error  (invalid_api_key)
├── PermissionDenied          403  permission_error      (model_not_allowed, …)
├── NotFound                  404  not_found_error
├── PayloadTooLarge           413  invalid_request_error
├── UnsupportedMediaType      415  invalid_request_error (a body that is not JSON)
├── UnprocessableBody         422  invalid_request_error
├── RateLimited               429  rate_limit_error      (+ Retry-After)
├── AdminDisabled             503  admin API has no token configured
└── UpstreamError
    ├── BadGateway            502  upstream_error
    ├── UpstreamUnavailable   503  upstream_unavailable
    └── UpstreamTimeout       504  upstream_timeout
"""

from __future__ import annotations

from typing import Any, ClassVar

from shared.redaction import redact_secrets
from shared.schemas.errors import error_body


class GatewayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        # Messages may quote what the client sent (a path, a model name): never a key back.
        message = redact_secrets(self.message)
        return error_body(message, self.type, param=self.param, code=self.code)


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class UnsupportedMediaType(GatewayError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"


class UnprocessableBody(GatewayError):
    status = 422
    type = "invalid_request_error"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class AdminDisabled(GatewayError):
    status = 503
    type = "admin_disabled"
    default_code = "admin_token_not_configured"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"


class BadGateway(UpstreamError):
    status = 502
    type = "upstream_error"
    default_code = "bad_gateway"


class UpstreamUnavailable(UpstreamError):
    status = 503
    type = "upstream_unavailable"
    default_code = "engine_unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "upstream_timeout"
    default_code = "engine_timeout"
