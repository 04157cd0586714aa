"""The watermark snapshot in Python agrees with PostgreSQL's visibility rules."""

from __future__ import annotations

import pytest
from django.db import connection

from pipeline.watermark import Snapshot


def test_text_round_trip():
    snap = Snapshot.parse("100:120:103,110")
    assert snap == Snapshot(100, 120, (103, 110))
    assert str(snap) == "100:120:103,110"
    assert Snapshot.parse("5:5:") == Snapshot(5, 5)


def test_visibility_below_xmin_between_and_above_xmax():
    snap = Snapshot(100, 120, (103, 110))
    assert snap.visible(99)
    assert snap.visible(100) and snap.visible(119)
    assert not snap.visible(103) and not snap.visible(110)
    assert not snap.visible(120) and not snap.visible(500)
    assert not Snapshot.nothing().visible(3)


@pytest.mark.parametrize("cutoff", [90, 100, 103, 104, 110, 115, 120, 130])
def test_below_keeps_exactly_what_was_visible_under_the_cutoff(cutoff):
    snap = Snapshot(100, 120, (103, 110))
    cut = snap.below(cutoff)
    for xid in range(80, 140):
        assert cut.visible(xid) == (snap.visible(xid) and xid < cutoff), xid


@pytest.mark.django_db
def test_python_visibility_is_postgresql_visibility():
    snap = Snapshot(100, 120, (103, 110))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT x, pg_visible_in_snapshot(x::text::xid8, %s::pg_snapshot) "
            "FROM generate_series(90, 130) AS x",
            [str(snap)],
        )
        for xid, visible in cursor.fetchall():
            assert snap.visible(xid) == visible, xid
