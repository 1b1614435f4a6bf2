"""The observability plugins, in the order they depend on each other: metrics first (the ledger
reports its own health through them), then the usage ledger, tracing and content logging."""

from __future__ import annotations

from litestar.plugins import PluginProtocol

from shared.settings import Settings


def telemetry_plugins(settings: Settings) -> list[PluginProtocol]:
    from gateway.content_log import ContentLogPlugin
    from gateway.metrics import MetricsPlugin
    from gateway.tracing import TracingPlugin
    from gateway.usage import UsagePlugin

    return [
        MetricsPlugin(),
        UsagePlugin(settings),
        TracingPlugin(settings.tracing),
        ContentLogPlugin(settings),
    ]
