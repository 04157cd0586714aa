"""Where a backup reads from and a restore writes to: PostgreSQL connection targets.

Connection details come from postgres:// URLs (settings.BACKUP_DATABASE_URL for
the source, settings.DATABASE_OWNER_URL for the target). pg_dump and pg_restore
get them as libpq environment variables, so a password never appears on a
command line, where every local user could read it with `ps`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace

import psycopg
from psycopg.conninfo import make_conninfo

from auditlog_project.settings.env import ConfigError, database_from_url

from .errors import BackupError

# Database names a restore may create: plain identifiers, no quoting surprises.
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# libpq URL options that the command-line tools take from the environment.
_LIBPQ_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT"}


@dataclass(frozen=True)
class Database:
    """One database on one server, reached as one role."""

    name: str
    user: str
    password: str = ""
    host: str = ""
    port: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_url(cls, setting: str, url: str) -> Database:
        if not url:
            raise BackupError(f"{setting} is not set (a postgres:// URL; docs/operations.md)")
        try:
            parts = database_from_url(setting, url)
        except ConfigError as exc:
            raise BackupError(str(exc)) from None
        return cls(
            name=parts["NAME"],
            user=parts["USER"],
            password=parts["PASSWORD"],
            host=parts["HOST"],
            port=parts["PORT"],
            options=dict(parts["OPTIONS"]),
        )

    def named(self, name: str) -> Database:
        """The same server and role, another database (checked to be a plain name)."""
        if not DATABASE_NAME.fullmatch(name):
            raise BackupError(
                f"database name {name!r} is not a plain name "
                "(lower-case letters, digits and underscores, 63 at most)"
            )
        return replace(self, name=name)

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection:
        try:
            return self._connect(autocommit)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise BackupError(f"cannot connect to {self!r}: {reason}") from None

    def _connect(self, autocommit: bool) -> psycopg.Connection:
        conninfo = make_conninfo(
            dbname=self.name,
            user=self.user,
            password=self.password or None,
            host=self.host or None,
            port=self.port or None,
            connect_timeout=10,
            **self.options,
        )
        return psycopg.connect(conninfo, autocommit=autocommit)

    def libpq_env(self) -> dict[str, str]:
        """The environment for pg_dump and pg_restore to reach this database."""
        env = dict(os.environ)
        for name in ("PGPASSWORD", "PGSERVICE", "PGOPTIONS"):
            env.pop(name, None)
        env.update(PGDATABASE=self.name, PGUSER=self.user)
        if self.password:
            env["PGPASSWORD"] = self.password
        if self.host:
            env["PGHOST"] = self.host
        if self.port:
            env["PGPORT"] = self.port
        for option, variable in _LIBPQ_ENV.items():
            if option in self.options:
                env[variable] = self.options[option]
        return env

    def __repr__(self) -> str:  # never the password
        return f"Database({self.user}@{self.host or 'local'}:{self.port or 5432}/{self.name})"
