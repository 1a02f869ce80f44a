-- stocks: the database and its two roles, for the full stack (docker-compose.yml).
--
-- The postgres image runs this once, on an empty data volume, as the superuser through
-- psql (/docker-entrypoint-initdb.d). It creates no table: the schema belongs to Alembic
-- (`stocks-api migrate`, the compose service `migrate`). Two roles split the work:
--
--   STOCKS_DB_OWNER (stocks_owner)  owns the database and its schema; runs the migrations.
--                                   Only the one-shot `migrate` service logs in as it.
--   STOCKS_DB_USER  (stocks_app)    the API's login: reads and writes rows (SELECT, INSERT,
--                                   UPDATE, DELETE; sequences for ids), and nothing else:
--                                   no DDL, no TEMP, no new databases or roles.
--
-- Tables created later by the owner's migrations are open to the API through default
-- privileges, so a new migration needs no GRANT of its own.
--
-- Parameters come from the environment (psql 15+ `\getenv`), so no secret is written
-- here: STOCKS_DB_NAME, STOCKS_DB_OWNER, STOCKS_DB_USER (defaults stocks, stocks_owner,
-- stocks_app) and STOCKS_DB_OWNER_PASSWORD, STOCKS_DB_PASSWORD (required). By hand:
--   STOCKS_DB_OWNER_PASSWORD=... STOCKS_DB_PASSWORD=... \
--     psql -h HOST -U postgres -d postgres -v ON_ERROR_STOP=1 -f init.sql

\set ON_ERROR_STOP on

\getenv db_name STOCKS_DB_NAME
\getenv owner_role STOCKS_DB_OWNER
\getenv owner_password STOCKS_DB_OWNER_PASSWORD
\getenv app_role STOCKS_DB_USER
\getenv app_password STOCKS_DB_PASSWORD

\if :{?db_name}
\else
\set db_name stocks
\endif
\if :{?owner_role}
\else
\set owner_role stocks_owner
\endif
\if :{?app_role}
\else
\set app_role stocks_app
\endif
\if :{?owner_password}
\else
\set owner_password ''
\endif
\if :{?app_password}
\else
\set app_password ''
\endif

SELECT :'owner_password' = '' OR :'app_password' = '' AS missing_password \gset
\if :missing_password
DO $$ BEGIN RAISE EXCEPTION 'init.sql: set STOCKS_DB_OWNER_PASSWORD and STOCKS_DB_PASSWORD'; END $$;
\endif

CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

CREATE DATABASE :"db_name" OWNER :"owner_role" ENCODING 'UTF8' TEMPLATE template0;
-- Only our two roles may connect; nobody gets TEMP.
REVOKE ALL ON DATABASE :"db_name" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db_name" TO :"app_role";

\connect :"db_name"

-- The owner owns the schema the migrations write to (PostgreSQL before 15 gives it to
-- the bootstrap superuser and lets everyone create in it).
ALTER SCHEMA public OWNER TO :"owner_role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";

-- Whatever the owner creates from now on (every table and sequence of every migration).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
