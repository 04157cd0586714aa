"""CPU per single-event POST in process: the Django app called as WSGI, no network.

    python scripts/bench/post_cpu.py [--requests 3000] [--profile]

Against the bench's database (auditlog_bench, after `make bench`): POSTs of the
bench's single-event shape through `get_wsgi_application()` with a real bearer
token, real PostgreSQL (COMMITs), Redis and SQS. Prints the process's CPU
time per request (every thread: the stream publisher's and the SQS sender's
included) and the wall time. CPU time moves much less than throughput with the
machine's other load, so two checkouts can be compared run against run (run
each a few times, alternating). --profile prints cProfile's top entries by
cumulative CPU time. Needs the environment `make bench` sets (DATABASE_URL,
SQS_ENDPOINT_URL); scripts/bench.sh shows it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def request_env(i: int, token: str) -> dict:
    body = json.dumps(
        {
            "tenant_id": f"bench-{i % 20:03d}",
            "user_id": f"user-{i % 200:03d}",
            "action": "VIEW",
            "resource_type": "document",
            "resource_id": f"document-{i}",
            "severity": "INFO",
            "message": f"single event {i}",
            "metadata": {"source": "post_cpu", "n": i},
        }
    ).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/logs",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.local")
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        username="bench", password=None
    )
    token = str(AccessToken.for_user(user))

    def call(i: int) -> None:
        status: list[str] = []
        out = app(request_env(i, token), lambda s, h, e=None: status.append(s))
        body = b"".join(out)
        if not status[0].startswith("201"):
            raise RuntimeError(f"{status[0]}: {body[:300]!r}")

    for i in range(200):  # warm: partitions, caches, connections
        call(i)
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile(time.process_time)
        profile.enable()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(args.requests):
        call(i)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    n = args.requests
    print(f"{n} POSTs: CPU {1000 * cpu / n:.3f} ms/request, wall {1000 * wall / n:.3f} ms/request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
