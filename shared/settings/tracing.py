"""OpenTelemetry tracing of the gateway (gateway/tracing)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TracingSettings(BaseModel):
    """Optional OpenTelemetry traces of the gateway (needs the `otel` extra)."""

    enabled: bool = Field(default=False, description="export OpenTelemetry spans over OTLP")
    endpoint: str | None = Field(
        default=None,
        description="OTLP endpoint, e.g. http://127.0.0.1:4317; unset = the OTEL_EXPORTER_OTLP_* variables",
    )
    protocol: Literal["grpc", "http/protobuf"] = Field(
        default="grpc", description="OTLP transport: grpc (port 4317) or http/protobuf (4318)"
    )
    service_name: str = Field(default="tollgate-gateway", description="service.name of the spans")
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="share of requests traced (parent-based)"
    )
