"""The Gradio web UI's settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UISettings(BaseModel):
    """The Gradio web UI; it talks only to the gateway."""

    host: str = Field(default="127.0.0.1", description="interface the UI listens on")
    port: int = Field(default=7860, ge=1, le=65535, description="UI port")
    gateway_url: str = Field(
        default="http://127.0.0.1:8080", description="the gateway the UI talks to"
    )
    concurrency_limit: int = Field(
        default=64, ge=1, description="chats (and other UI events) served at once per event"
    )
    queue_size: int = Field(
        default=512,
        ge=1,
        description="UI events waiting in Gradio's queue before new ones are refused",
    )
    request_timeout_s: float = Field(
        default=300.0, gt=0, description="seconds the UI waits for the gateway's answer"
    )
    sign_in_rate_limit: str = Field(
        default="10/minute", description="sign-in attempts per client IP (limits notation)"
    )
    chat_rate_limit: str = Field(
        default="60/minute", description="chat messages per client IP (limits notation)"
    )
    engine_refresh_s: float = Field(
        default=5.0, gt=0, description="seconds between live engine-state refreshes"
    )
