"""Stats from the rollup: the window split into rollup days, rollup hours and raw events.

For a window [start, end) (end open when None) of a whole tenant:
- the partial hours at its edges, [start, first whole hour) and [last whole
  hour end, end), and every dirty hour are read from the raw events;
- the other (clean) hours come from the rollup: the per-hour totals for the
  timeline and the total; the breakdowns from day rows (minus the hour rows
  of a day's dirty hours, and of its hours outside the window when the day
  is mostly inside), and from hour rows for short pieces of edge days.
  Rows subtracted are counted negative; keys that sum to 0 are left out.

One statement reads all of it, so one snapshot; the dirty hours it plans with
are read just before it, and the statement also returns any hour that turned
dirty in between: the plan is then redone with those hours raw (rare; after a
few tries the caller falls back to the raw path). Each piece is an index range
scan with constant bounds, so the planner prunes partitions, and a fully dirty
tenant (right after the migration) costs about what the raw path does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from .grouping import (
    DIMENSIONS,
    NEWLY_DIRTY,
    TIMELINE,
    TOP_USERS,
    TOTAL,
)
from .rollup_refresh import RAW_COUNTS

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
OPEN = datetime.max.replace(tzinfo=UTC)  # an open window end, as a bound
LAST_PLANNED = OPEN - 2 * DAY  # later bounds go raw (see rollup_plan)
ATTEMPTS = 3

Range = tuple[datetime, datetime]

DIRTY_SQL = """
    SELECT hour FROM logs_event_rollup_dirty
    WHERE tenant_id = %s AND hour >= %s AND hour < %s ORDER BY hour
"""
TOTALS_SQL = """
    SELECT 'total' AS dimension, '' AS key, period, n FROM logs_event_rollup
    WHERE tenant_id = %s AND granularity = 'hour' AND dimension = 'total'
      AND period >= %s AND period < %s AND period <> ALL(%s::timestamptz[])
"""
DAYS_SQL = """
    SELECT dimension, key, period, n FROM logs_event_rollup
    WHERE tenant_id = %s AND granularity = 'day' AND dimension <> 'total'
      AND period >= %s AND period < %s
"""
HOURS_SQL = """
    SELECT dimension, key, period, n FROM logs_event_rollup
    WHERE tenant_id = %s AND granularity = 'hour' AND dimension <> 'total'
      AND period >= %s AND period < %s AND period <> ALL(%s::timestamptz[])
"""
MINUS_HOURS_SQL = """
    SELECT dimension, key, period, -n FROM logs_event_rollup
    WHERE tenant_id = %s AND granularity = 'hour' AND dimension <> 'total'
      AND period >= %s AND period < %s
"""
RAW_SQL = """
    SELECT date_trunc('hour', "timestamp", 'UTC') AS hour,
           action, severity, resource_type, user_id
    FROM logs_event WHERE tenant_id = %s AND "timestamp" >= %s AND "timestamp" < %s
"""
# The output rows carry the ids of the raw path's GROUPING() (grouping.py).
_BREAKDOWN_ID = " ".join(f"WHEN '{name}' THEN {gid}" for gid, name in DIMENSIONS.items())
_BREAKDOWN_DIMENSIONS = ", ".join(f"'{name}'" for name in DIMENSIONS.values())
RESULT_SQL = f"""
WITH parts AS MATERIALIZED ({{parts}})
SELECT CASE dimension {_BREAKDOWN_ID} END, key, NULL::timestamptz, sum(n)::bigint
FROM parts WHERE dimension IN ({_BREAKDOWN_DIMENSIONS})
GROUP BY dimension, key HAVING sum(n) > 0
UNION ALL
SELECT {TIMELINE}, NULL, date_trunc(%s, period, 'UTC') AS bucket, sum(n)::bigint
FROM parts WHERE dimension = 'total' GROUP BY bucket
UNION ALL
SELECT {TOTAL}, NULL, NULL, COALESCE(sum(n), 0)::bigint FROM parts WHERE dimension = 'total'
UNION ALL
(SELECT {TOP_USERS}, key, NULL, sum(n)::bigint FROM parts WHERE dimension = 'user_id'
 GROUP BY key HAVING sum(n) > 0 ORDER BY sum(n) DESC, key LIMIT {{top}})
UNION ALL
SELECT {NEWLY_DIRTY}, NULL, hour, 0 FROM logs_event_rollup_dirty
WHERE tenant_id = %s AND hour >= %s AND hour < %s AND hour <> ALL(%s::timestamptz[])
"""


def floor(moment: datetime, unit: timedelta) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if unit == DAY else moment


def ceil(moment: datetime, unit: timedelta) -> datetime:
    down = floor(moment, unit)
    return down if down == moment else down + unit


def _merge(ranges: list[Range]) -> list[Range]:
    """The ranges sorted, empty ones dropped, touching ones joined."""
    merged: list[Range] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


@dataclass(frozen=True)
class Plan:
    """Which part of the window comes from where (all bounds UTC, ends exclusive)."""

    start: datetime
    end: datetime  # OPEN when the window is open
    hours_start: datetime  # the whole hours: [hours_start, hours_end)
    hours_end: datetime
    days_start: datetime  # the whole days among them (none when start > end)
    days_end: datetime
    dirty: tuple[datetime, ...] = ()

    def _edges(self) -> list[Range]:
        """The whole hours outside whole days: at most one piece per edge day."""
        if self.days_start > self.days_end:  # all inside one day
            return [(self.hours_start, self.hours_end)]
        edges = [(self.hours_start, self.days_start), (self.days_end, self.hours_end)]
        return [(lo, hi) for lo, hi in edges if lo < hi]

    def breakdown_ranges(self) -> tuple[list[Range], list[Range], list[Range]]:
        """(day ranges, hour ranges, hour ranges subtracted) for the breakdowns.

        A day's rows are the sums of its hour rows, dirty ones included, so a
        day mostly inside the window is read as its day rows minus the hour
        rows it must not count: the hours outside the window, and the dirty
        hours (read raw instead). Smaller edge pieces are read as hour rows
        (the dirty ones are left out in SQL).
        """
        days, hours, minus = [(self.days_start, self.days_end)], [], []
        for lo, hi in self._edges():
            day = floor(lo, DAY)
            if hi - lo > DAY / 2:
                days.append((day, day + DAY))
                minus += [(day, lo), (hi, day + DAY)]
            else:
                hours.append((lo, hi))
        days = _merge(days)
        minus += [(h, h + HOUR) for h in self.dirty if any(lo <= h < hi for lo, hi in days)]
        return days, _merge(hours), _merge(minus)

    def raw_ranges(self) -> list[Range]:
        edges = [(self.start, self.hours_start), (self.hours_end, self.end)]
        return _merge(edges + [(hour, hour + HOUR) for hour in self.dirty])


def rollup_plan(start: datetime, end: datetime | None) -> Plan | None:
    """The plan of [start, end) before reading dirty hours; None: no whole hour
    inside, or a bound in the last days of year 9999 (the raw path answers:
    the ceilings of its hours and days do not exist)."""
    if max(start, end or start) >= LAST_PLANNED:
        return None
    hours_start = ceil(start, HOUR)
    hours_end = floor(end, HOUR) if end else OPEN
    if hours_start >= hours_end:
        return None
    days_end = floor(hours_end, DAY) if end else OPEN
    return Plan(start, end or OPEN, hours_start, hours_end, ceil(hours_start, DAY), days_end)


def rollup_query(plan: Plan, tenant_id: str, bucket: str, top: int) -> tuple[str, list]:
    """The statement for `plan` and its parameters (only bounds and fixed names)."""
    dirty = list(plan.dirty)
    parts = [TOTALS_SQL]
    params: list = [tenant_id, plan.hours_start, plan.hours_end, dirty]
    days, hours, minus = plan.breakdown_ranges()
    for lo, hi in days:
        parts.append(DAYS_SQL)
        params += [tenant_id, lo, hi]
    for lo, hi in hours:
        parts.append(HOURS_SQL)
        params += [tenant_id, lo, hi, dirty]
    for lo, hi in minus:
        parts.append(MINUS_HOURS_SQL)
        params += [tenant_id, lo, hi]
    raw = plan.raw_ranges()
    if raw:
        events = " UNION ALL ".join([RAW_SQL] * len(raw))
        parts.append(
            f"SELECT dimension, key, period, n FROM ({RAW_COUNTS.format(events=events)}) AS c"
        )
        for lo, hi in raw:
            params += [tenant_id, lo, hi]
    sql = RESULT_SQL.format(parts=" UNION ALL ".join(parts), top=top)
    return sql, [*params, bucket, tenant_id, plan.hours_start, plan.hours_end, dirty]


def rollup_stats_rows(
    cursor, *, tenant_id: str, bucket: str, start: datetime, end: datetime | None, top: int
) -> list[tuple] | None:
    """The stats rows from the rollup; None when the raw path should answer."""
    plan = rollup_plan(start, end)
    if plan is None:
        return None
    cursor.execute(DIRTY_SQL, [tenant_id, plan.hours_start, plan.hours_end])
    dirty = {row[0] for row in cursor.fetchall()}
    for _ in range(ATTEMPTS):
        plan = replace(plan, dirty=tuple(sorted(dirty)))
        cursor.execute(*rollup_query(plan, tenant_id, bucket, top))
        rows = cursor.fetchall()
        fresh = {row[2] for row in rows if row[0] == NEWLY_DIRTY}
        if not fresh:
            return rows
        dirty |= fresh
    return None
