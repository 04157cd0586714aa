"""Run a command with a local SQS endpoint available.

    python scripts/sqs_local.py -- COMMAND [ARGS...]

When SQS_ENDPOINT_URL points at this machine and nothing answers there, start
the moto server (an SQS-compatible endpoint from PyPI) on that port, run the
command, and stop the server afterwards. When the endpoint is remote (AWS) or
already answering, just run the command. Ctrl-C reaches the command; this
wrapper waits for it and then cleans up what it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_moto(host: str, port: int) -> subprocess.Popen:
    moto = Path(sys.executable).with_name("moto_server")
    log = open(Path(os.environ.get("RUN_DIR", ".run")) / f"moto-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(moto), "-H", host, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C goes to the command; we stop moto ourselves
    )
    deadline = time.monotonic() + 30
    while not _answers(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"sqs: the local moto server did not start on {host}:{port}")
        time.sleep(0.1)
    print(f"sqs: started a local moto server on {host}:{port} (pid {proc.pid})", flush=True)
    return proc


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        sys.exit("usage: sqs_local.py -- COMMAND [ARGS...]")
    Path(os.environ.get("RUN_DIR", ".run")).mkdir(exist_ok=True)
    endpoint = urlsplit(os.environ.get("SQS_ENDPOINT_URL", ""))
    moto = None
    if endpoint.hostname in LOCAL_HOSTS and endpoint.port:
        if not _answers(endpoint.hostname, endpoint.port):
            moto = start_moto(endpoint.hostname, endpoint.port)
        else:
            print(f"sqs: using the endpoint already answering at {endpoint.geturl()}", flush=True)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        child = subprocess.Popen(argv, preexec_fn=lambda: signal.signal(signal.SIGINT, previous))
        return child.wait()
    finally:
        if moto is not None:
            moto.terminate()
            try:
                moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                moto.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
