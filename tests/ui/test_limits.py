"""Per-address limits on sign-in and chat in the UI."""

from __future__ import annotations

from types import SimpleNamespace

from ui.limits import UIRateLimiter, client_address


def peer(host: str) -> SimpleNamespace:
    return SimpleNamespace(
        client=SimpleNamespace(host=host), headers={"x-forwarded-for": "1.2.3.4"}
    )


def test_sign_in_attempts_are_limited_per_address() -> None:
    limiter = UIRateLimiter("2/minute", "100/minute")
    assert limiter.hit("sign_in", peer("10.0.0.1")).allowed
    assert limiter.hit("sign_in", peer("10.0.0.1")).allowed
    refused = limiter.hit("sign_in", peer("10.0.0.1"))
    assert not refused.allowed and 0 < refused.retry_after_s <= 60
    assert "Too many sign-in attempts" in refused.plain("sign_in")
    # Another address, and another action, have their own counters.
    assert limiter.hit("sign_in", peer("10.0.0.2")).allowed
    assert limiter.hit("chat", peer("10.0.0.1")).allowed


def test_forwarded_for_headers_cannot_pick_a_fresh_bucket() -> None:
    assert client_address(peer("10.0.0.9")) == "10.0.0.9"
    assert client_address(None) == "unknown"


def test_a_disabled_limiter_allows_everything() -> None:
    limiter = UIRateLimiter("1/minute", "1/minute", enabled=False)
    assert all(limiter.hit("chat", peer("10.0.0.1")).allowed for _ in range(5))
