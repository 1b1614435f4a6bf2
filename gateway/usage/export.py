"""Usage reports as CSV (one header line, one line per group, the totals last)."""

from __future__ import annotations

import csv
import io

from shared.schemas.usage import COUNTS, UsageReport, UsageRow

_DIMENSIONS = {"hour": "start", "day": "start", "key": "key_id", "team": "team", "model": "model"}
_MEASURES = (*COUNTS, "avg_latency_ms", "avg_ttft_ms")


def columns(report: UsageReport) -> list[str]:
    dims = list(dict.fromkeys(_DIMENSIONS[g] for g in report.group_by))
    if "key_id" in dims:
        dims.insert(dims.index("key_id") + 1, "key_name")
    return [*dims, *_MEASURES]


def _cell(row: UsageRow, column: str) -> str:
    value = getattr(row, column)
    if value is None:
        return ""
    if column == "start":
        return str(value.isoformat())
    return str(value)


def _safe(text: str) -> str:
    # Spreadsheets run cells that start with these as formulas; key names and teams are
    # user-typed text, so they are quoted out of harm's way (OWASP CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(report: UsageReport, *, totals: bool = True) -> str:
    out = io.StringIO()
    names = columns(report)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in report.data:
        writer.writerow([_safe(_cell(row, c)) for c in names])
    if totals and report.group_by:
        first_dim = len(names) - len(_MEASURES)
        writer.writerow(
            ["total" if i == 0 else "" for i in range(first_dim)]
            + [_cell(report.totals, c) for c in _MEASURES]
        )
    return out.getvalue()
