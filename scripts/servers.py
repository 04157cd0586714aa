"""Every server command line and the load balancer's routing, written once.

    python scripts/servers.py exec NAME [--host H] [--port P]   # become process NAME
    python scripts/servers.py procs [--single]                  # the Procfile names to start
    python scripts/servers.py nginx-conf [--docker]             # print the nginx config
    python scripts/servers.py wait-sqs                          # wait for a local SQS endpoint

The Procfile, docker/Dockerfile, docker/compose.yaml, docker/nginx.conf
(generated; a test keeps it equal), scripts/run.sh, the bench
(scripts/bench/servers.py) and the tests (tests/processes.py) all take their
commands from here, so a flag changed here changes everywhere.

Ports of one `make run` copy, from PORT (default 8000):
    PORT    nginx, the one address clients use
    PORT+1  web: gunicorn sync workers, every HTTP request but exports
    PORT+2  stream: uvicorn, the WebSocket stream
    PORT+3  export: gunicorn sync workers of their own, for exports only
    PORT+4  the local moto SQS server (when SQS_ENDPOINT_URL is left to default)
TLS_PORT (default PORT+443: 8443 for the default copy, 8543 for PORT=8100):
nginx over TLS (HTTPS and wss://), with a self-signed certificate made for
this copy under RUN_DIR/tls/.
No gunicorn control socket is opened: nothing uses it, and its default path is
shared by every copy on the machine.

Only the standard library: Docker runs this with the image's python, and the
bench and tests import it without Django.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPLATE = ROOT / "scripts" / "nginx.conf.template"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# nginx answers oversize request lines (414) and header lines (431) itself with
# problem+json: its buffers (large_client_header_buffers 4 6k in the template)
# are smaller than gunicorn's limits below, so gunicorn's plain-text 400 page is
# never what a client behind nginx sees.
GUNICORN_LIMITS = [
    "--limit-request-line", "8190",
    "--limit-request-field_size", "8190",
    "--limit-request-fields", "32768",
]  # fmt: skip


TLS_OFFSET = 443  # TLS_PORT's default distance from PORT: 8000 -> 8443


@dataclass(frozen=True)
class Ports:
    """The ports of one copy of the service, derived from the public one.

    `tls_port` is TLS_PORT when given; otherwise PORT+443, so the default copy
    serves TLS on 8443 (the contract's port) and a second copy on another PORT
    gets a TLS port of its own without being told.
    """

    public: int
    tls_port: int | None = None

    @property
    def web(self) -> int:
        return self.public + 1

    @property
    def stream(self) -> int:
        return self.public + 2

    @property
    def export(self) -> int:
        return self.public + 3

    @property
    def sqs(self) -> int:
        return self.public + 4

    @property
    def tls(self) -> int:
        return self.tls_port or self.public + TLS_OFFSET


API_APP = "auditlog_project.wsgi:application"


def gunicorn(port: int, workers: int, *, host: str = "127.0.0.1", app: str = API_APP) -> list[str]:
    """A pool of WSGI sync workers running the HTTP API (or, for the bench's
    ceiling, another WSGI `app` served the same way)."""
    return [
        str(BIN / "gunicorn"), app,
        "--bind", f"{host}:{port}", "--workers", str(workers), "--worker-class", "sync",
        "--max-requests", "20000", "--max-requests-jitter", "2000",
        "--graceful-timeout", "20", "--timeout", "300", "--no-control-socket",
        *GUNICORN_LIMITS,
    ]  # fmt: skip


def uvicorn(port: int, *, host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    """The ASGI server: the stream (one process), or everything in the fallback."""
    return [
        sys.executable, "-m", "uvicorn", "auditlog_project.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--lifespan", "off", "--no-access-log", "--no-server-header",
    ]  # fmt: skip


def celery(role: str, run_dir: Path) -> list[str]:
    """The Celery worker or beat."""
    args = [str(BIN / "celery"), "-A", "auditlog_project", role, "--loglevel", "INFO"]
    if role == "worker":
        concurrency = os.environ.get("WORKER_CONCURRENCY", "2")
        args += ["--concurrency", concurrency, "--queues", "default"]
        args += ["--without-gossip", "--without-mingle"]
    else:
        args += ["--schedule", str(run_dir / "celerybeat-schedule")]
    return args


def moto(host: str, port: int) -> list[str]:
    """The local SQS stand-in (in memory: queues vanish when it stops)."""
    return [str(BIN / "moto_server"), "-H", host, "-p", str(port)]


def nginx(run_dir: Path) -> list[str]:
    """nginx in the foreground with the config `nginx_conf` wrote under RUN_DIR/nginx."""
    conf = run_dir / "nginx" / "nginx.conf"
    return ["nginx", "-p", str(run_dir / "nginx"), "-c", str(conf), "-g", "daemon off;"]


# Environment each process adds to its own: the WSGI pools sit behind one proxy
# (nginx or the ALB); under ASGI persistent connections leak (ADR 0005), so
# the ASGI processes take theirs from a pool instead.
ASGI_DATABASE = {"DATABASE_CONN_MAX_AGE": "0", "DATABASE_POOL_SIZE": "4"}
ENV = {
    "web": {"NUM_PROXIES": "1"},
    "export": {"NUM_PROXIES": "1"},
    "stream": {"NUM_PROXIES": "1", **ASGI_DATABASE},
    "single": dict(ASGI_DATABASE),
}


def public_port() -> int:
    """This copy's public port: AUDITLOG_PORT, which run.sh sets from PORT.

    Not PORT itself under honcho: honcho gives each process a PORT of its own.
    """
    return int(os.environ.get("AUDITLOG_PORT") or os.environ.get("PORT") or "8000")


def tls_port() -> int | None:
    """TLS_PORT from the environment, or None for the default (PORT+443)."""
    value = os.environ.get("TLS_PORT")
    return int(value) if value else None


def this_copy() -> Ports:
    """The ports of the copy `make run` starts, from AUDITLOG_PORT/PORT and TLS_PORT."""
    return Ports(public_port(), tls_port())


def runtime_dir() -> Path:
    """RUN_DIR, or its default as scripts/env.sh and settings/local.py make it."""
    instance = os.environ.get("AUDITLOG_INSTANCE") or "auditlog"
    return (ROOT / os.environ.get("RUN_DIR", f".run/{instance}")).resolve()


def command(name: str, *, host: str | None = None, port: int | None = None) -> list[str]:
    """The command line of process NAME, from the environment `make run` sets."""
    ports = this_copy()
    folder = runtime_dir()
    local = host or "127.0.0.1"
    if name == "web":
        return gunicorn(port or ports.web, int(os.environ.get("WEB_CONCURRENCY", "4")), host=local)
    if name == "export":
        workers = int(os.environ.get("EXPORT_CONCURRENCY", "2"))
        return gunicorn(port or ports.export, workers, host=local)
    if name == "stream":
        return uvicorn(port or ports.stream, host=local)
    if name == "single":
        workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
        return uvicorn(
            port or ports.public, host=host or os.environ.get("HOST", local), workers=workers
        )
    if name in ("worker", "beat"):
        return celery(name, folder)
    if name == "router":
        return nginx(folder)
    if name == "sqs":
        endpoint = urlsplit(os.environ["SQS_ENDPOINT_URL"])
        return moto(endpoint.hostname or local, endpoint.port or 0)
    raise SystemExit(f"servers.py: no process named {name!r}")


def hsts_seconds() -> int:
    """HSTS_SECONDS: the max-age nginx's TLS answers carry (default 300).

    Short on purpose for a local copy: HSTS binds a host name, not a port, so
    a year-long pin on `localhost` would turn every later http://localhost:PORT
    (this copy's plain port, any other local server) into https for a year.
    Production's HSTS (a year) comes from the application (settings/production.py).
    """
    return int(os.environ.get("HSTS_SECONDS") or "300")


def render_routes(*, listen: str, web: str, export: str, stream: str, tls: str) -> str:
    """The routing part of the nginx config (upstreams, maps, server block)."""
    text = TEMPLATE.read_text().replace("    # @TLS@\n", tls)
    values = {"LISTEN": listen, "WEB": web, "EXPORT": export, "STREAM": stream}
    values["HSTS_SECONDS"] = str(hsts_seconds())
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def nginx_conf(run_dir: Path, ports: Ports, host: str = "127.0.0.1") -> str:
    """A whole nginx config for a local copy: runtime files under RUN_DIR/nginx."""
    base = run_dir / "nginx"
    temp = "\n".join(
        f"    {kind}_temp_path {base}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    cert, key = self_signed_certificate(run_dir / "tls", host)
    tls = (
        "    # HTTPS and wss:// beside plain HTTP, with this copy's self-signed certificate.\n"
        f"    listen {host}:{ports.tls} ssl;\n"
        f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
        "    ssl_protocols TLSv1.2 TLSv1.3;\n"
    )
    routes = render_routes(
        listen=f"{host}:{ports.public}",
        web=f"127.0.0.1:{ports.web}",
        export=f"127.0.0.1:{ports.export}",
        stream=f"127.0.0.1:{ports.stream}",
        tls=tls,
    )
    indented = "".join(f"    {line}" if line.strip() else line for line in routes.splitlines(True))
    return (
        "# Generated by scripts/servers.py from scripts/nginx.conf.template; do not edit.\n"
        f"worker_processes 1;\npid {base}/nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 1024; }\n\nhttp {\n    access_log off;\n"
        f"    default_type application/octet-stream;\n{temp}\n\n{indented}}}\n"
    )


def self_signed_certificate(folder: Path, host: str) -> tuple[Path, Path]:
    """FOLDER/cert.pem and key.pem for HOST, localhost and 127.0.0.1; made once.

    Self-signed: clients must be told to trust it (curl --cacert cert.pem).
    It encrypts local traffic; it is no substitute for a real certificate.
    """
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for address in {host, "127.0.0.1"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditlog make run")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def docker_nginx_conf() -> str:
    """docker/nginx.conf: the same routes with the compose services as upstreams."""
    routes = render_routes(
        listen="80",
        web="web:8000",
        export="export:8000",
        stream="stream:8001",
        tls="    # TLS is terminated in front of this nginx (the ALB, or your own proxy).\n",
    )
    return (
        "# Generated by `python scripts/servers.py nginx-conf --docker` from\n"
        "# scripts/nginx.conf.template; do not edit (a test compares them).\n"
        "# docker/compose.yaml mounts it as /etc/nginx/conf.d/default.conf.\n" + routes
    )


def sqs_is_local() -> bool:
    endpoint = urlsplit(os.environ.get("SQS_ENDPOINT_URL", ""))
    return endpoint.hostname in LOCAL_HOSTS and endpoint.port is not None


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_sqs(timeout: float = 60) -> None:
    """Wait until a local SQS endpoint answers (the `sqs` process starts beside us)."""
    if not sqs_is_local():
        return
    endpoint = urlsplit(os.environ["SQS_ENDPOINT_URL"])
    deadline = time.monotonic() + timeout
    while not answers(endpoint.hostname or "127.0.0.1", endpoint.port or 0):
        if time.monotonic() > deadline:
            raise SystemExit(f"sqs: nothing answers at {endpoint.geturl()} after {timeout:.0f}s")
        time.sleep(0.2)


def procs(single: bool) -> list[str]:
    """The Procfile entries `make run` starts (moto only if nothing answers yet)."""
    names = ["single"] if single else ["router", "web", "export", "stream"]
    names += ["worker", "beat"]
    if sqs_is_local():
        endpoint = urlsplit(os.environ["SQS_ENDPOINT_URL"])
        if not answers(endpoint.hostname or "127.0.0.1", endpoint.port or 0):
            names.append("sqs")
    return names


def exec_process(name: str, host: str | None, port: int | None) -> None:
    """Replace this process with NAME; worker and beat first create the queues."""
    args = command(name, host=host, port=port)
    if name in ("worker", "beat") and sqs_is_local():
        # The local moto server starts beside us and keeps queues in memory:
        # create them (idempotent) with their redrive policy before kombu would
        # create them bare. On AWS the deployment's migrate task does it.
        wait_for_sqs()
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "sqs_setup"], check=True)
    os.environ.update(ENV.get(name, {}))
    os.execvp(args[0], args)  # noqa: S606 - a fixed argument list, no shell wanted


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("exec")
    run.add_argument("name")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    sub.add_parser("procs").add_argument("--single", action="store_true")
    sub.add_parser("nginx-conf").add_argument("--docker", action="store_true")
    sub.add_parser("wait-sqs")
    args = parser.parse_args(argv)
    if args.action == "exec":
        exec_process(args.name, args.host, args.port)
    elif args.action == "procs":
        print(" ".join(procs(args.single)))
    elif args.action == "nginx-conf":
        if args.docker:
            print(docker_nginx_conf(), end="")
        else:
            ports = this_copy()
            print(nginx_conf(runtime_dir(), ports, os.environ.get("HOST", "127.0.0.1")), end="")
    else:
        wait_for_sqs()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
