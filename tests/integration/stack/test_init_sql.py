"""init.sql: the database, an owner role that runs the migrations, a least-privileged API role.

Run against the machine's PostgreSQL with throwaway names (the `stack_database` fixture),
then migrated by Alembic as the owner, as the compose service `migrate` does. That the
API itself runs on the app role is shown by every other test of this folder.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.databases import PG_HOST, PG_PORT
from tests.integration.stack.conftest import StackDatabase, drop_database_and_roles, run_init_sql
from tests.integration.stack.helpers import base_env

pytestmark = pytest.mark.postgres


@pytest.fixture
async def as_app(stack_database: StackDatabase) -> AsyncIterator[asyncpg.Connection]:
    db = stack_database
    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=db.app, password=db.app_password, database=db.name
    )
    try:
        yield conn
    finally:
        await conn.close()


async def test_the_app_role_reads_and_writes_every_table(
    as_app: asyncpg.Connection, stack_database: StackDatabase
) -> None:
    tables = [
        row["tablename"]
        for row in await as_app.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    assert {"order", "fill", "order_event", "position", "api_key", "risk_state"} <= set(tables)
    for table in tables:
        rights = await as_app.fetchval(
            "SELECT has_table_privilege($1, $2, 'SELECT, INSERT, UPDATE, DELETE')",
            stack_database.app,
            f'public."{table}"',
        )
        assert rights, f"{stack_database.app} cannot read and write {table}"
    sequences = await as_app.fetch(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
    )
    assert sequences
    for row in sequences:
        assert await as_app.fetchval(
            "SELECT has_sequence_privilege($1, $2, 'USAGE')",
            stack_database.app,
            f'public."{row["sequencename"]}"',
        )
    # Really, not just on paper: each statement is checked for its privilege when planned.
    async with as_app.transaction():
        await as_app.execute('SELECT count(*) FROM "order"')
        await as_app.execute('INSERT INTO "order" SELECT * FROM "order" WHERE false')
        await as_app.execute('UPDATE "order" SET id = id WHERE false')
        await as_app.execute('DELETE FROM "order" WHERE false')
        await as_app.execute("SELECT nextval('order_id_seq')")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        'ALTER TABLE "order" ADD COLUMN intruder int',
        'DROP TABLE "fill"',
        'TRUNCATE "order_event"',
        "CREATE TEMP TABLE scratch (id int)",
        "CREATE SCHEMA intruder",
        "CREATE DATABASE intruder",
        "CREATE ROLE intruder",
        "ALTER ROLE CURRENT_USER CREATEDB",
    ],
)
async def test_the_app_role_changes_no_schema_database_or_role(
    as_app: asyncpg.Connection, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_app.execute(statement)


async def test_the_roles_have_no_special_powers_and_the_owner_owns_the_schema(
    as_app: asyncpg.Connection, stack_database: StackDatabase
) -> None:
    db = stack_database
    roles = await as_app.fetch(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = ANY($1::text[])",
        [db.owner, db.app],
    )
    assert len(roles) == 2
    for role in roles:
        powers = {name: value for name, value in role.items() if name != "rolname"}
        assert not any(powers.values()), (role["rolname"], powers)
    owners = await as_app.fetch(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
    )
    assert [row["tableowner"] for row in owners] == [db.owner]
    assert (
        await as_app.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", db.name
        )
        == db.owner
    )
    # Nobody but the two roles (and superusers) may connect: no PUBLIC entry in the ACL.
    acl = await as_app.fetchval(
        "SELECT datacl::text[] FROM pg_database WHERE datname = $1", db.name
    )
    assert not [entry for entry in acl if entry.startswith("=")], acl


def test_init_sql_refuses_to_run_without_the_passwords() -> None:
    suffix = uuid.uuid4().hex[:10]
    names = {
        "STOCKS_DB_NAME": f"stocks_nopw_{suffix}",
        "STOCKS_DB_OWNER": f"stocks_nopw_owner_{suffix}",
        "STOCKS_DB_USER": f"stocks_nopw_app_{suffix}",
    }
    try:
        result = run_init_sql(base_env(**names))
        assert result.returncode != 0
        assert "set STOCKS_DB_OWNER_PASSWORD and STOCKS_DB_PASSWORD" in result.stderr
    finally:
        drop_database_and_roles(
            names["STOCKS_DB_NAME"], names["STOCKS_DB_USER"], names["STOCKS_DB_OWNER"]
        )
