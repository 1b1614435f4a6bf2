"""Typed settings for every part of Tollgate.

One `Settings` root reads `TOLLGATE_*` environment variables and a `.env` file; nested sections
are plain models (nested `BaseSettings` would miss the root's `.env`), set with a double
underscore: `TOLLGATE_ENGINE__PORT=8001`. Command-line flags override by `model_copy(update=…)`.
"""

from shared.settings.engine import EngineSettings
from shared.settings.gateway import GatewaySettings, RoutingSettings
from shared.settings.limits import KeySettings, LimitSettings, UsageSettings
from shared.settings.root import DEFAULT_MODEL_NAME, Settings, load_settings
from shared.settings.scheduling import SchedulingSettings
from shared.settings.tracing import TracingSettings
from shared.settings.ui import UISettings

__all__ = [
    "DEFAULT_MODEL_NAME",
    "EngineSettings",
    "GatewaySettings",
    "KeySettings",
    "LimitSettings",
    "RoutingSettings",
    "SchedulingSettings",
    "Settings",
    "TracingSettings",
    "UISettings",
    "UsageSettings",
    "load_settings",
]
