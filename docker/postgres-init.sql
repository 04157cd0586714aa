-- Runs once, as the postgres superuser, when the database volume is empty
-- (mounted into /docker-entrypoint-initdb.d by docker/compose.yaml). It does
-- what scripts/bootstrap.py does on the project's machines:
--   auditlog_owner  owns the database and the tables; migrations run as it
--   auditlog_app    the runtime role: owns nothing, so row-level security
--                   applies to it; never a superuser, never BYPASSRLS
-- Passwords come from the container's environment (psql 15's \getenv), so no
-- secret lives in this file. Table privileges for auditlog_app are granted by
-- the application after every `migrate` (tenants/db.py), not here.

\getenv owner_password AUDITLOG_OWNER_PASSWORD
\getenv app_password AUDITLOG_APP_PASSWORD

\if :{?owner_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'AUDITLOG_OWNER_PASSWORD is not set for the db service'; END $$;
\endif
\if :{?app_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'AUDITLOG_APP_PASSWORD is not set for the db service'; END $$;
\endif

CREATE ROLE auditlog_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE CREATEDB
    PASSWORD :'owner_password';
CREATE ROLE auditlog_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB
    PASSWORD :'app_password';

CREATE DATABASE auditlog OWNER auditlog_owner;

-- TimescaleDB is optional for the application; this image ships it. Creating
-- the extension needs a superuser, so it happens here rather than in a
-- migration. (With a plain postgres:15 image, delete these two lines.)
\connect auditlog
CREATE EXTENSION IF NOT EXISTS timescaledb;
