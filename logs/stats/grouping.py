"""The ids of the rows both stats statements return, named once, and the answer they make.

The raw path's `GROUPING(action, severity, resource_type, user_id, bucket)`
has a bit set for each column a row is NOT grouped by (action is the highest
bit); the rollup path's statement returns the same ids for the same rows, so
`shape` reads either. Every row is (grouping id, key, bucket, count).
"""

from __future__ import annotations

GROUPED_BY = ("action", "severity", "resource_type", "user_id", "bucket")
_ALL = (1 << len(GROUPED_BY)) - 1


def _grouped_by(column: str) -> int:
    return _ALL ^ (1 << (len(GROUPED_BY) - 1 - GROUPED_BY.index(column)))


BY_ACTION = _grouped_by("action")  # 15
BY_SEVERITY = _grouped_by("severity")  # 23
BY_RESOURCE_TYPE = _grouped_by("resource_type")  # 27
TOP_USERS = _grouped_by("user_id")  # 29
TIMELINE = _grouped_by("bucket")  # 30
TOTAL = _ALL  # 31: the grand total
# Only the rollup path: a row naming an hour dirtied after its plan was made.
NEWLY_DIRTY = 0

# The rollup's dimension of each breakdown's rows; the answer names it `by_<dimension>`.
DIMENSIONS = {BY_ACTION: "action", BY_SEVERITY: "severity", BY_RESOURCE_TYPE: "resource_type"}
BREAKDOWNS = {grouping_id: f"by_{name}" for grouping_id, name in DIMENSIONS.items()}


def shape(rows: list[tuple]) -> dict:
    """The stats answer from (grouping id, key, bucket, count) rows, sorted for display."""
    result: dict = {name: {} for name in BREAKDOWNS.values()}
    result["total"], result["timeline"], users = 0, [], {}
    for grouping_id, key, bucket, count in rows:
        if grouping_id == TOTAL:
            result["total"] = count
        elif grouping_id == TIMELINE:
            result["timeline"].append({"bucket": bucket, "count": count})
        elif grouping_id == TOP_USERS:
            users[key] = count
        else:
            result[BREAKDOWNS[grouping_id]][key] = count
    result["top_users"] = [
        {"user_id": user_id, "count": count}
        for user_id, count in sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    result["timeline"].sort(key=lambda point: point["bucket"])
    for name in BREAKDOWNS.values():
        result[name] = dict(sorted(result[name].items(), key=lambda kv: (-kv[1], kv[0])))
    return result
