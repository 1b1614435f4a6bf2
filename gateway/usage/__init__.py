"""The usage ledger: one row per proxied request, written in batches off the request path;
grouped reports over it (admin API, `tollgate usage`, the key holder's own history), CSV
export, and retention."""

from gateway.usage.plugin import UsagePlugin
from gateway.usage.service import UsageService
from gateway.usage.writer import LedgerSink, LedgerWriter

__all__ = ["LedgerSink", "LedgerWriter", "UsagePlugin", "UsageService"]
