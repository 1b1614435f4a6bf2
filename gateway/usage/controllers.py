"""HTTP glue for the ledger: `GET /admin/usage` (any key, team or model; JSON or CSV) and
`GET /tollgate/usage` (the calling key's own history and limits; the UI plots it). Both take
the `usage` dependency (a `UsageService`), which the usage plugin provides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter, QueryParameter

from gateway.admin.base import AdminController
from gateway.errors import InvalidRequest
from gateway.keys.controllers import me_info
from gateway.keys.exception_handlers import EXCEPTION_HANDLERS
from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import bind_principal
from gateway.usage.export import to_csv
from gateway.usage.periods import FORMS, PeriodError, parse_period
from gateway.usage.service import UsageService
from shared.schemas.usage import (
    GROUP_BY_CHOICES,
    Bucket,
    GroupBy,
    KeyUsageReport,
    UsageFilters,
    UsageReport,
)

# What a key holder sees when asking without `since`: the UI's default periods.
_DEFAULT_LOOKBACK = {"hour": timedelta(hours=24), "day": timedelta(days=30)}


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    try:
        return parse_period(since, until)
    except PeriodError as exc:
        param = "until" if str(exc).startswith("until") else "since"
        raise InvalidRequest(str(exc), param=param, code="invalid_value") from None


def _group_by(values: list[str] | None) -> list[GroupBy]:
    groups: list[GroupBy] = []
    for value in values or []:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in GROUP_BY_CHOICES:
                raise InvalidRequest(
                    f"group_by: unknown grouping {part.strip()!r}; use any of "
                    f"{', '.join(GROUP_BY_CHOICES)} (comma-separated).",
                    param="group_by",
                    code="invalid_value",
                )
            groups.append(name)  # checked against the choices above
    if "hour" in groups and "day" in groups:
        raise InvalidRequest(
            "group_by: choose hour or day, not both.", param="group_by", code="invalid_value"
        )
    return groups


def _wants_csv(request: Request[Any, Any, Any], fmt: str | None) -> bool:
    if fmt is not None:
        choice = fmt.strip().lower()
        if choice not in ("json", "csv"):
            raise InvalidRequest("format: use json or csv.", param="format", code="invalid_value")
        return choice == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


class AdminUsageController(AdminController):
    path = "/admin/usage"

    @get(
        "/",
        summary="Usage by hour, day, model, key or team, with filters; JSON or CSV",
        description=(
            "Requests, errors and tokens from the usage ledger. `since`/`until` take "
            f"{FORMS}. `group_by` is a comma-separated list of hour|day|model|key|team "
            "(empty: one row of totals). `format=csv` (or `Accept: text/csv`) downloads CSV."
        ),
        # The JSON answer's schema (the handler returns a Response, for its CSV form too).
        responses={200: ResponseSpec(data_container=UsageReport, description="the report")},
    )
    async def usage_report(
        self,
        request: Request[Any, Any, Any],
        usage: NamedDependency[UsageService],
        key: str | None = Parameter(default=None, description="only this key id", max_length=200),
        team: str | None = Parameter(default=None, description="only this team", max_length=200),
        model: str | None = Parameter(default=None, description="only this model", max_length=200),
        since: str | None = Parameter(default=None, description="from (inclusive)", max_length=200),
        until: str | None = Parameter(default=None, description="to (exclusive)", max_length=200),
        group_by: list[str] | None = Parameter(
            default=None, description="hour, day, model, key, team (comma-separated)"
        ),
        fmt: Annotated[
            str | None, QueryParameter(name="format", description="json or csv", max_length=10)
        ] = None,
    ) -> Response[Any]:
        start, end = _period(since, until)
        groups = _group_by(group_by)
        csv_wanted = _wants_csv(request, fmt)
        filters = UsageFilters(key_id=key, team=team, model=model, since=start, until=end)
        report = await usage.report(filters, groups)
        if csv_wanted:
            return Response(
                content=to_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": 'attachment; filename="tollgate-usage.csv"'},
            )
        return Response(content=report)


class MyUsageController(Controller):
    path = "/tollgate/usage"
    tags = ["tollgate"]
    exception_handlers = EXCEPTION_HANDLERS
    security = [{"ApiKey": []}]

    @get("/", summary="The calling key's requests and tokens per hour or day, and its limits")
    async def my_usage(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[KeyPrincipal],
        usage: NamedDependency[UsageService],
        since: str | None = Parameter(
            default=None, description="from (default: 24 h, or 30 days by day)", max_length=200
        ),
        until: str | None = Parameter(
            default=None, description="to (default: now)", max_length=200
        ),
        bucket: str = Parameter(default="hour", description="hour or day", max_length=10),
    ) -> KeyUsageReport:
        bind_principal(request.scope, principal)
        size = bucket.strip().lower()
        if size not in _DEFAULT_LOOKBACK:
            raise InvalidRequest("bucket: use hour or day.", param="bucket", code="invalid_value")
        start, end = _period(since, until)
        if start is None:
            start = (end or datetime.now(UTC)) - _DEFAULT_LOOKBACK[size]
        chosen: Bucket = "day" if size == "day" else "hour"
        return await usage.key_report(
            principal.id, me_info(principal).limits, bucket=chosen, since=start, until=end
        )
