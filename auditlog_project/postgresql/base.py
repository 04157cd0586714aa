"""Django's PostgreSQL backend, with a health check that costs no round trip.

With persistent connections and CONN_HEALTH_CHECKS, Django checks the
connection at the start of every request with a `SELECT 1`: one of the seven
round trips a single-event POST made (issue 14). An idle connection that is
still alive has nothing to read; one the server ended (a restart,
`pg_terminate_backend`, an idle timeout) has its error message or its EOF
waiting on the socket. So the check here looks at the socket first, without
waiting, and asks the server only when something is there. A connection lost
without a word (a network partition) is not caught before the request uses it,
as with any check made before the request: that request fails and Django closes
the connection after it.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken or conn.pgconn.status != pq.ConnStatus.OK:
            return False
        poller = select.poll()  # not select(): it refuses descriptors past 1023
        try:
            poller.register(conn.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        return super().is_usable() if readable else True
