"""What every `/admin/*` controller shares: OpenAI-shaped errors, and the `AdminToken` scheme
and `admin` tag in the OpenAPI schema. The guard comes from the router they are served under
(`gateway.admin.guards.admin_router`), which the composition root builds."""

from __future__ import annotations

from litestar import Controller

from gateway.keys.exception_handlers import EXCEPTION_HANDLERS


class AdminController(Controller):
    tags = ["admin"]
    exception_handlers = EXCEPTION_HANDLERS
    security = [{"AdminToken": []}]
