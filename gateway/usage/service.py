"""Usage questions answered from the ledger: grouped reports, a key's own history, pruning.

The HTTP handlers and `tollgate usage` both call this; it owns the sessions and turns database
faults into `DatabaseUnavailable` (503 over HTTP, a plain message at the prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.errors import database_errors
from gateway.usage.queries import prune_slice, summarize
from shared.logging import get_logger
from shared.schemas.keys import KeyLimitsInfo
from shared.schemas.usage import (
    Bucket,
    GroupBy,
    KeyUsageReport,
    PruneResult,
    UsageBucket,
    UsageFilters,
    UsageReport,
    UsageTotals,
)

_log = get_logger("tollgate.usage")


class UsageService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def report(self, filters: UsageFilters, group_by: Sequence[GroupBy]) -> UsageReport:
        groups = list(dict.fromkeys(group_by))  # once each, in the order asked
        with database_errors("the usage ledger"):
            async with self._sessions() as session:
                rows, totals = await summarize(session, filters, groups)
        return UsageReport(group_by=groups, filters=filters, data=rows, totals=totals)

    async def key_report(
        self,
        key_id: str,
        limits: KeyLimitsInfo,
        *,
        bucket: Bucket,
        since: datetime | None,
        until: datetime | None,
    ) -> KeyUsageReport:
        """One key's requests and tokens per hour or day (what the UI plots)."""
        filters = UsageFilters(key_id=key_id, since=since, until=until)
        report = await self.report(filters, [bucket])
        buckets = [
            UsageBucket(
                start=row.start,
                requests=row.requests,
                prompt_tokens=row.prompt_tokens,
                completion_tokens=row.completion_tokens,
                errors=row.errors,
            )
            for row in report.data
            if row.start is not None
        ]
        totals = report.totals
        return KeyUsageReport(
            key_id=key_id,
            bucket=bucket,
            since=since,
            until=until,
            buckets=buckets,
            totals=UsageTotals(
                requests=totals.requests,
                prompt_tokens=totals.prompt_tokens,
                completion_tokens=totals.completion_tokens,
            ),
            limits=limits,
        )

    async def prune(self, older_than_days: float, *, now: datetime | None = None) -> PruneResult:
        """Delete rows that started more than `older_than_days` ago, in short transactions."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
        deleted = 0
        with database_errors("the usage ledger"):
            while True:
                async with self._sessions() as session, session.begin():
                    count = await prune_slice(session, cutoff)
                deleted += count
                if count == 0:
                    break
        if deleted:
            _log.info("usage ledger pruned", deleted=deleted, older_than=cutoff.isoformat())
        return PruneResult(deleted=deleted, older_than=cutoff)
