"""Rate limits and token budgets: RPM, TPM, concurrency, daily and monthly tokens, per key, per
team and by default, with per-model overrides; in-process or shared through Redis.

    Limiter                  the admission stage (`admit`) and `remaining` for /tollgate/me
    AuthThrottle             failed authentications per client address
    LimitsPlugin             the limiter's lifespan in the app (gateway/wiring.py builds it)
"""

from gateway.limits.admission import Limiter
from gateway.limits.auth_throttle import AuthThrottle
from gateway.limits.plugin import LimitsPlugin

__all__ = ["AuthThrottle", "Limiter", "LimitsPlugin"]
