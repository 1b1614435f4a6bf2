"""The Admin tab's key table and form, and the My usage tab's plot data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.schemas.keys import KeyInfo
from shared.schemas.usage import KeyUsageReport, UsageRow
from ui.errors import GatewayError
from ui.tabs.admin import KEY_TABLE_HEADERS, TIERS, admin_problem, key_rows, key_spec
from ui.tabs.usage import budget_use, usage_frames

KEY = KeyInfo.model_validate(
    {
        "id": "key_1",
        "name": "alice",
        "team": None,
        "prefix": "tg-abc",
        "tier": "standard",
        "created_at": "2026-11-01T10:00:00Z",
        "last_used_at": None,
        "expires_at": None,
        "allowed_models": ["m1", "m2"],
        "limits": {"rpm": 60},
        "revoked": True,
        "revoked_at": "2026-11-02T10:00:00Z",
    }
)


def test_key_rows_show_limits_status_and_usage() -> None:
    [row] = key_rows([KEY], {"key_1": UsageRow(key_id="key_1", requests=12, total_tokens=3400)})
    table = dict(zip(KEY_TABLE_HEADERS, row, strict=True))
    assert table["models"] == "m1, m2" and table["rpm"] == "60" and table["tpm"] == "∞"
    assert table["status"] == "revoked 2026-11-02 10:00"
    assert (table["requests (30 d)"], table["tokens (30 d)"]) == ("12", "3,400")
    assert key_rows([KEY], None)[0][-2:] == ["—", "—"]
    assert key_rows([KEY], {})[0][-2:] == ["0", "0"]


def test_key_form_leaves_empty_fields_out() -> None:
    spec = key_spec(" ci ", "", "batch", "m1, ,m2", 10, None, 0, None, 5e6, 30)
    assert spec == {
        "name": "ci",
        "team": None,
        "tier": "batch",
        "models": ["m1", "m2"],
        "rpm": 10,
        "tpm": None,
        "max_concurrency": None,
        "daily_tokens": None,
        "monthly_tokens": 5_000_000,
        "expires_in_days": 30,
    }
    assert TIERS == ["interactive", "standard", "batch"]


def test_admin_errors_read_as_plain_words() -> None:
    assert (
        admin_problem(GatewayError(401, "Invalid admin token.")) == "That admin token is not right."
    )
    disabled = GatewayError(503, "no token", type_="admin_disabled")
    assert "admin API is turned off" in admin_problem(disabled)


def usage_report(bucket: str, *buckets: dict[str, object]) -> KeyUsageReport:
    """GET /tollgate/usage's answer with these buckets (the fields not given are 0)."""
    counts = ("requests", "prompt_tokens", "completion_tokens", "errors")
    rows: list[dict[str, Any]] = [{name: 0 for name in counts} | b for b in buckets]
    return KeyUsageReport.model_validate(
        {
            "key_id": "key_1",
            "bucket": bucket,
            "since": None,
            "until": None,
            "buckets": rows,
            "totals": {name: sum(r[name] for r in rows) for name in counts[:3]},
            "limits": {},
        }
    )


def test_usage_frames_split_tokens_by_kind_and_budgets_count_today() -> None:
    now = datetime(2026, 11, 25, 15, tzinfo=UTC)
    report = usage_report(
        "day",
        {
            "start": "2026-11-24T00:00:00Z",
            "requests": 2,
            "prompt_tokens": 10,
            "completion_tokens": 5,
        },
        {
            "start": "2026-11-25T00:00:00Z",
            "requests": 3,
            "prompt_tokens": 20,
            "completion_tokens": 7,
        },
    )
    assert report.totals.requests == 5 and report.totals.completion_tokens == 12
    requests, tokens, labels = usage_frames(report)
    assert list(requests["requests"]) == [2, 3] and labels == ["Nov 24", "Nov 25"]
    assert sorted(set(tokens["kind"])) == ["answer", "prompt"] and tokens["tokens"].sum() == 42
    assert budget_use(report, now) == (27, 42)


def test_usage_frames_show_quiet_hours_as_zero_bars_in_time_order() -> None:
    report = usage_report("hour", {"start": "2026-11-25T14:00:00Z", "requests": 4})
    until = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    requests, _tokens, labels = usage_frames(report, since=until - timedelta(hours=24), until=until)
    assert len(labels) == len(set(labels)) == 25  # yesterday's 15:00 and today's differ
    assert labels[0] == "Tue 15:00" and labels[-1] == "Wed 15:00"
    assert list(requests["requests"]).count(0) == 24
    assert requests["requests"][labels.index("Wed 14:00")] == 4
