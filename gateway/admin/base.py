"""What every `/admin/*` controller shares: the admin-token guard, OpenAI-shaped errors, and the
`AdminToken` scheme and `admin` tag in the OpenAPI schema."""

from __future__ import annotations

from litestar import Controller

from gateway.admin.guards import require_admin
from gateway.keys.exception_handlers import EXCEPTION_HANDLERS


class AdminController(Controller):
    tags = ["admin"]
    guards = [require_admin]
    exception_handlers = EXCEPTION_HANDLERS
    security = [{"AdminToken": []}]
