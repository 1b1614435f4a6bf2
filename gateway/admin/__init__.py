"""The admin API under /admin: key management now, usage later. Every route is guarded by
`require_admin` (bearer `TOLLGATE_ADMIN_TOKEN`)."""

from gateway.admin.guards import AdminAuth, require_admin

__all__ = ["AdminAuth", "require_admin"]
