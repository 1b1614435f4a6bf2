"""The limiter's refusals in OpenAI's shape: which limit, whose, how much, and when to retry.

    429 rate_limit_error  code rate_limit_exceeded         rpm, tpm
                          code concurrency_limit_exceeded  max_concurrency
                          code token_budget_exceeded       daily_tokens, monthly_tokens
                          code too_many_auth_failures      failed authentications per address
    503 limits_unavailable code rate_limiter_unavailable   Redis down and fail mode "closed"

`param` names the limit (rpm, tpm, max_concurrency, daily_tokens, monthly_tokens).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from gateway.errors import GatewayError, RateLimited
from gateway.limits.checks import Check
from gateway.limits.headers import format_duration, retry_headers

_NAMES = {
    "rpm": "requests per minute (RPM)",
    "tpm": "tokens per minute (TPM)",
    "daily_tokens": "daily token budget (UTC day)",
    "monthly_tokens": "monthly token budget (UTC month)",
}
_CODES = {
    "rpm": "rate_limit_exceeded",
    "tpm": "rate_limit_exceeded",
    "max_concurrency": "concurrency_limit_exceeded",
    "daily_tokens": "token_budget_exceeded",
    "monthly_tokens": "token_budget_exceeded",
}


class LimiterUnavailable(GatewayError):
    status = 503
    type = "limits_unavailable"
    default_code = "rate_limiter_unavailable"


def limiter_unavailable(retry_s: float) -> LimiterUnavailable:
    return LimiterUnavailable(
        "Rate limits cannot be checked right now (the limit store is unreachable), so this "
        "key's requests are refused; try again shortly.",
        headers=retry_headers(retry_s),
    )


def _until(now: float, wait_s: float) -> str:
    at = datetime.fromtimestamp(now + wait_s, UTC).isoformat(timespec="seconds")
    return at.replace("+00:00", "Z")


def limit_exceeded(
    check: Check, used: float, wait_s: float, now: float, headers: dict[str, str]
) -> RateLimited:
    limit = check.limit
    who = limit.scope.describe()
    if limit.kind == "max_concurrency":
        message = (
            f"Concurrency limit reached for {who}: Limit {limit.capacity} requests in flight, "
            f"In flight {int(used)}. Please try again when one of them has finished."
        )
    else:
        unit = "" if limit.kind == "rpm" else " tokens"
        message = (
            f"Rate limit reached for {who} on {_NAMES[limit.kind]}: Limit {limit.capacity}"
            f"{unit}, Used {math.ceil(used - 1e-9)}, Requested {check.need}."
        )
        if limit.kind in ("daily_tokens", "monthly_tokens"):
            message += f" It resets at {_until(now, wait_s)} (in {format_duration(wait_s)})."
        else:
            message += f" Please try again in {format_duration(wait_s)}."
    if limit.default:
        message += " (This is the gateway's default limit for keys without their own.)"
    return RateLimited(message, param=limit.kind, code=_CODES[limit.kind], headers=headers)
