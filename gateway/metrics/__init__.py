"""Prometheus metrics of the gateway: requests, latency, time to first token, tokens, requests
in flight, rate-limit refusals, upstream errors and health, and the usage ledger's own health;
correct with several worker processes (prometheus_client's multiprocess mode)."""

from gateway.metrics.plugin import MetricsPlugin, render
from gateway.metrics.recorder import LedgerMetrics, MetricsRecorder
from gateway.metrics.registry import GatewayMetrics

__all__ = ["GatewayMetrics", "LedgerMetrics", "MetricsPlugin", "MetricsRecorder", "render"]
