"""Stats: aggregates of a tenant's events, from the hourly/daily rollup or one raw scan.

The package: this entry point (`event_stats`: the window, the choice of path,
the raw path), `rollup_read` (the rollup path's statement), `rollup_refresh`
(keeping the rollup equal to the raw events: the refresh task and the rebuild
command) and `grouping` (the row ids both statements return, and the answer).

The rollup path: when the request is the whole tenant with no filter but the time window
(not the `user` role, whose scope is its own events), one statement reads the
rollup for clean hours and days and raw events for the partial hours at the
window's edges and every dirty hour; the answer is what the raw scan would
give. Windows without one whole UTC hour inside go raw.

The raw path, for everything else: all the aggregates (total, per action,
severity and resource type, per user, per time bucket) come from one
`GROUP BY GROUPING SETS` over the filtered events: PostgreSQL reads the
matching rows once and hashes them into every set. The per-user set is cut
to the top 10 in SQL, so a tenant with many actors returns 10 rows, not one
per actor.

Buckets are UTC hours or days: `date_trunc(unit, timestamp, 'UTC')`, or
TimescaleDB's `time_bucket` when that extension is installed (same UTC
boundaries for hours and days; it is the function the extension optimises).
With no `start_time`, the window is the 30 days before `end_time` (or now),
so the default request never scans a tenant's whole history.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import DateTimeField, F, Func, QuerySet

from auditlog_project.errors import Invalid
from tenants.scoping import TenantAccess

from ..filtersets import EventFilterSet, OffsetDateTimeField
from ..models import Event
from ..selectors import event_filter
from .grouping import GROUPED_BY, TOP_USERS, shape
from .rollup_read import rollup_stats_rows

BUCKETS = ("hour", "day")
DEFAULT_BUCKET = "day"
DEFAULT_WINDOW = timedelta(days=30)
EARLIEST = datetime.min.replace(tzinfo=UTC)
TOP_USERS_LIMIT = 10
# Filters the rollup can answer; any other one (even for one dimension) goes raw.
ROLLUP_FILTERS = frozenset({"start_time", "end_time"})
OTHER_FILTERS = frozenset(EventFilterSet.base_filters) - ROLLUP_FILTERS
# The raw path sorts and hashes up to a tenant's whole window; its plan is cheap
# to compile, so JIT only adds its compile time. Both last to the end of the
# request transaction, which the stats query ends.
SESSION_SQL = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"

# The row ids are grouping.py's: GROUPING() of the five columns.
STATS_SQL = f"""
WITH grouped AS (
    SELECT GROUPING({", ".join(GROUPED_BY)}) AS grouping_id,
           COALESCE(action, severity, resource_type, user_id) AS key, bucket,
           count(*) AS n
    FROM ({{events}}) AS e
    GROUP BY GROUPING SETS ((), (action), (severity), (resource_type), (user_id), (bucket))
)
SELECT grouping_id, key, bucket, n FROM grouped WHERE grouping_id <> {TOP_USERS}
UNION ALL
(SELECT grouping_id, key, bucket, n FROM grouped WHERE grouping_id = {TOP_USERS}
 ORDER BY n DESC, key LIMIT {TOP_USERS_LIMIT})
"""


@functools.cache
def timescaledb_installed() -> bool:
    """Whether the TimescaleDB extension is installed (asked once per process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')")
        return cursor.fetchone()[0]


def _bucket_expression(bucket: str) -> Func:
    # `bucket` is one of BUCKETS (validated), never client text, in the template.
    if timescaledb_installed():
        template = f"time_bucket(INTERVAL '1 {bucket}', %(expressions)s)"
    else:
        template = f"date_trunc('{bucket}', %(expressions)s, 'UTC')"
    return Func(F("timestamp"), template=template, output_field=DateTimeField())


def stats_window(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime | None]:
    """(start, end) of the window: the parameters, or the default 30 days."""
    field = OffsetDateTimeField(required=False)
    end = field.clean(params.get("end_time"))
    start = field.clean(params.get("start_time"))
    if start is None:
        until = end or now
        # A window ending within 30 days of year 1 starts at the first moment.
        start = until - DEFAULT_WINDOW if until - EARLIEST > DEFAULT_WINDOW else EARLIEST
    return start, end


def event_stats(
    *, access: TenantAccess, scope: QuerySet[Event], params: Mapping[str, str], now: datetime
) -> dict:
    """The aggregates of the events in scope matching `params`; 400 names a bad one.

    `scope` is `access`'s scoped queryset (TenantScopedAPIView.get_queryset()).
    Exact on either path; the rollup path is taken only when it answers the
    same question as the scope and filters.
    """
    bucket = params.get("bucket") or DEFAULT_BUCKET
    if bucket not in BUCKETS:
        raise Invalid({"bucket": [f"Must be one of {', '.join(BUCKETS)}."]})
    events = event_filter(scope=scope, params=params)  # validates the times first
    start, end = stats_window(params, now)
    with connection.cursor() as cursor:
        cursor.execute(SESSION_SQL)
        rows = None
        if _rollup_answers(access, params):
            rows = rollup_stats_rows(
                cursor,
                tenant_id=access.tenant_id,
                bucket=bucket,
                start=start,
                end=end,
                top=TOP_USERS_LIMIT,
            )
        if rows is None:
            cursor.execute(*_raw_query(events, start, bucket))
            rows = cursor.fetchall()
    return {"start_time": start, "end_time": end, "bucket": bucket, **shape(rows)}


def _raw_query(events: QuerySet[Event], start: datetime, bucket: str) -> tuple[str, tuple]:
    events = events.filter(timestamp__gte=start).annotate(bucket=_bucket_expression(bucket))
    sql, sql_params = events.values(
        "action", "severity", "resource_type", "user_id", "bucket"
    ).query.sql_with_params()
    return STATS_SQL.format(events=sql), sql_params


def _rollup_answers(access: TenantAccess, params: Mapping[str, str]) -> bool:
    """The scope is the whole tenant and no filter but the window is given."""
    return not access.sees_only_own_events and not any(params.get(f) for f in OTHER_FILTERS)
