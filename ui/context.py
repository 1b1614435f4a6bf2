"""What every tab's handlers need, built once per process and passed in (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from shared.settings import UISettings
from ui.client import GatewayClient
from ui.limits import UIRateLimiter


@dataclass(frozen=True)
class UIContext:
    client: GatewayClient
    settings: UISettings
    limiter: UIRateLimiter
    log: structlog.stdlib.BoundLogger
    export_dir: Path  # conversation exports, written before Gradio serves them
