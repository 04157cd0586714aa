"""A real HTTP receiver for the delivery tests: http.server on 127.0.0.1, in a thread.

It records every request (headers and exact body bytes) and answers the
statuses it was told to, in order (then `default`), like a SIEM endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event_ids(self) -> list[str]:
        return [event["id"] for event in json.loads(self.body)["events"]]


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then `default`
    default: int = 200
    hold_first: float = 0.0  # seconds the first request waits before its answer

    def event_ids(self) -> list[str]:
        return [i for request in self.requests for i in request.event_ids]


@contextmanager
def running_receiver(path: str = "/hook") -> Iterator[Receiver]:
    receiver = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                hold = receiver.hold_first if len(receiver.requests) == 1 else 0.0
            time.sleep(hold)  # the sender is mid-POST meanwhile (a test may kill it)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
