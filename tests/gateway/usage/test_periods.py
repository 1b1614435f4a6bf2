"""Time bounds as people type them: ISO instants and dates, ages, and a `+` lost in a URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.usage.periods import PeriodError, parse_instant, parse_period

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T09:00:00Z", datetime(2026, 11, 24, 9, tzinfo=UTC)),
        ("2026-11-24T11:00:00+02:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),
        ("2026-11-24T09:00:00 00:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),  # `+` lost in a URL
        ("2026-11-24T09:00", datetime(2026, 11, 24, 9, tzinfo=UTC)),  # no zone: UTC
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
        ("now", NOW),
        ("today", datetime(2026, 11, 25, tzinfo=UTC)),
        ("30m", NOW - timedelta(minutes=30)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    parsed = parse_instant(text, now=NOW)
    assert parsed == expected and parsed.tzinfo is not None
    assert parsed.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize("text", ["", "yesterday-ish", "7 years", "2026-13-01", "-5d"])
def test_unreadable_times_say_what_is_accepted(text: str) -> None:
    with pytest.raises(PeriodError, match="ISO 8601"):
        parse_instant(text, now=NOW)


def test_a_period_must_run_forwards_and_errors_name_the_bound() -> None:
    assert parse_period("7d", None, now=NOW) == (NOW - timedelta(days=7), None)
    with pytest.raises(PeriodError, match="must be before"):
        parse_period("now", "1d", now=NOW)
    with pytest.raises(PeriodError, match="^until:"):
        parse_period(None, "soon", now=NOW)
