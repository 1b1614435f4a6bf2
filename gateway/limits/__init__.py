"""Rate limits and token budgets: RPM, TPM, concurrency, daily and monthly tokens, per key, per
team and by default, with per-model overrides; in-process or shared through Redis.

    LimitsPlugin(settings)   wires everything into the gateway app (gateway/app.py uses it)
    Limiter                  the admission hook (`admit`) and `remaining` for /tollgate/me
    AuthThrottle             failed authentications per client address
"""

from gateway.limits.admission import Limiter
from gateway.limits.auth_throttle import AuthThrottle
from gateway.limits.plugin import AUTH_THROTTLE_STATE_KEY, LIMITER_STATE_KEY, LimitsPlugin

__all__ = [
    "AUTH_THROTTLE_STATE_KEY",
    "LIMITER_STATE_KEY",
    "AuthThrottle",
    "Limiter",
    "LimitsPlugin",
]
