"""The admin API under /admin: keys, teams and usage. Every route is served behind one
`AdminGuard` (bearer `TOLLGATE_ADMIN_TOKEN`), through `admin_router`."""

from gateway.admin.guards import AdminAuth, AdminGuard, admin_guard, admin_router

__all__ = ["AdminAuth", "AdminGuard", "admin_guard", "admin_router"]
