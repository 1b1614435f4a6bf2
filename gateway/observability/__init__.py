"""Request ids, the per-request record, one structured log line per request, header hygiene."""

from gateway.observability.context import RequestRecord, Usage, bind_principal, record_of
from gateway.observability.middleware import AccessLog, RequestContext

__all__ = ["AccessLog", "RequestContext", "RequestRecord", "Usage", "bind_principal", "record_of"]
