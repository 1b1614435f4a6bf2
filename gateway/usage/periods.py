"""Reading the time bounds users type: ISO 8601 instants and dates, or "this long ago".

`since=7d` is easier to type than an instant, in a URL and at a prompt alike. Everything is
UTC; an instant without a zone is taken as UTC. A query string turns the `+` of `+00:00`
into a space unless it was escaped, so a space before the offset is read as that `+`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_RELATIVE = re.compile(r"(\d{1,6})\s*(m|min|h|d|w)", re.IGNORECASE)
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_BROKEN_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")

FORMS = "an ISO 8601 time (2026-11-24T09:00:00Z), a date (2026-11-24), 'now', 'today', or an age such as 30m, 24h, 7d, 2w"


class PeriodError(ValueError):
    """A time bound that cannot be read; the message says what is accepted."""


def parse_instant(text: str, *, now: datetime | None = None) -> datetime:
    """A UTC datetime from any of the accepted forms (see FORMS)."""
    value = text.strip()
    now = now or datetime.now(UTC)
    if not value:
        raise PeriodError(f"empty time; use {FORMS}")
    lowered = value.lower()
    if lowered == "now":
        return now
    if lowered == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    relative = _RELATIVE.fullmatch(lowered)
    if relative is not None:
        amount, unit = int(relative.group(1)), _UNIT[relative.group(2)]
        return now - timedelta(**{unit: amount})
    value = _BROKEN_OFFSET.sub(r"\1+\2", value)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"cannot read the time {text!r}; use {FORMS}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_period(
    since: str | None, until: str | None, *, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """Both bounds (None = open); `since` must come before `until`. Errors name the bound."""
    now = now or datetime.now(UTC)
    try:
        start = parse_instant(since, now=now) if since is not None else None
    except PeriodError as exc:
        raise PeriodError(f"since: {exc}") from None
    try:
        end = parse_instant(until, now=now) if until is not None else None
    except PeriodError as exc:
        raise PeriodError(f"until: {exc}") from None
    if start is not None and end is not None and start >= end:
        raise PeriodError(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end
