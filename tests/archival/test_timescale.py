"""The TimescaleDB path: a no-op here (no extension), and the SQL it would run."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from archival.timescale import compression_apply, compression_sql, hypertable_state


def test_the_generated_sql_compresses_by_tenant_and_time_after_the_age():
    statements = compression_sql(14)
    assert statements[0] == (
        "ALTER TABLE logs_event SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'tenant_id', "
        "timescaledb.compress_orderby = '\"timestamp\" DESC, id DESC')"
    )
    assert statements[1] == "SELECT remove_compression_policy('logs_event', if_exists => true)"
    assert statements[2] == (
        "SELECT add_compression_policy('logs_event', compress_after => INTERVAL '14 days')"
    )
    # Compression already enabled: only the policy's age changes.
    assert compression_sql(14, enable=False) == statements[1:]
    with pytest.raises(ValueError):
        compression_sql(0)


@pytest.mark.django_db
def test_without_timescaledb_nothing_is_done():
    with connection.cursor() as cursor:
        assert hypertable_state(cursor) is None
    assert compression_apply(7) is False
    out = io.StringIO()
    call_command("timescale_compression", stdout=out)
    assert "not installed" in out.getvalue()
    out = io.StringIO()
    call_command("timescale_compression", "--after-days", "30", "--print", stdout=out)
    assert "INTERVAL '30 days'" in out.getvalue()
