"""Reset times in OpenAI's (Go's) duration format."""

from __future__ import annotations

import pytest

from gateway.limits.headers import format_duration, retry_headers


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0ms"),
        (0.0204, "21ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (6, "6s"),
        (59.9985, "59.999s"),
        (59.9994, "1m0s"),  # rounded up: never earlier than the limit allows,
        (60, "1m0s"),
        (360, "6m0s"),
        (90.25, "1m30.25s"),
        (3723, "1h2m3s"),
        (86400, "24h0m0s"),
    ],
)
def test_durations_read_like_openais(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_retry_after_is_whole_seconds_at_least_one_and_ms_is_exact() -> None:
    assert retry_headers(0.2) == {"retry-after": "1", "retry-after-ms": "200"}
    assert retry_headers(6.01) == {"retry-after": "7", "retry-after-ms": "6010"}
    assert retry_headers(7200, should_retry=False)["x-should-retry"] == "false"
