"""The database logins of the stack's consumers, each with exactly what it needs.

- the pipeline's writer (`profiteer_pipeline`, on the embedded server): owns the warehouse, shop
  and dagster databases and everything in them (Dagster's runs and storage; the runs write the
  shop's store too); no superuser, no role management, nothing on other databases' objects. The
  admin login only prepares the server. Objects an older version made as the admin are handed
  over.
- the app's reader (`profiteer_reader`): CONNECT on the warehouse; the `analytics` and
  `shop_model` schemas' tables (present ones, and through default privileges those its owner creates later) and
  `public.products`. Nothing in `shop` or `dagster`, nor `public.sales`, `airbyte_raw`.
- the shop API's login (`profiteer_shop_api`, on the embedded server): CONNECT on `shop`; SELECT
  on the store's table, which it serves; nothing else.
- MindsDB's datasource login (`profiteer_model`): CONNECT on the warehouse; `public.sales_features`
  only, the view training and evaluation read (a view reads its tables with its owner's rights).
- PUBLIC loses CONNECT and TEMPORARY on the stack's databases; the admin login (the one running
  these statements) keeps them explicitly.

Everything is idempotent: `profiteer up` runs it on every start, so a role made by an older
version (the reader held `pg_read_all_data`) is brought down to these grants. The objects granted
on are created if missing, with the pipeline's own idempotent DDL, so the grants land before the
first run and survive it (the pipeline never drops them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor
from psycopg2.extensions import make_dsn

from profiteer_pipeline.sources.base import SHOP
from profiteer_pipeline.warehouse import grants

READER_SCHEMAS = ("analytics", SHOP.results)  # every table, now and later
READER_TABLES = ("public.products",)
MODEL_TABLES = ("public.sales_features",)
# predefined roles that would read or write beyond the grants above
BROAD_ROLES = ("pg_read_all_data", "pg_write_all_data", "pg_monitor", "pg_read_server_files")


def _connect(admin_dsn: str, database: str | None = None):
    dsn = make_dsn(admin_dsn, dbname=database) if database else admin_dsn
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    return conn


def ensure_login(admin_dsn: str, user: str, password: str) -> None:
    """`user` can log in with `password`, and holds none of the predefined roles that read all."""
    conn = _connect(admin_dsn)
    try:
        with conn.cursor() as cur:
            role = sql.Identifier(user)
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(role), (password,))
            cur.execute(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s AND g.rolname = ANY(%s)",
                (user, list(BROAD_ROLES)),
            )
            for (granted,) in cur.fetchall():
                cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), role))
    finally:
        conn.close()


def restrict_connect(admin_dsn: str, databases: Sequence[str]) -> None:
    """Only roles granted CONNECT reach these databases; the admin login keeps its access."""
    conn = _connect(admin_dsn)
    try:
        with conn.cursor() as cur:
            for name in databases:
                db = sql.Identifier(name)
                cur.execute(
                    sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO CURRENT_USER").format(db)
                )
                cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    finally:
        conn.close()


@contextmanager
def _granting(admin_dsn: str, user: str, database: str) -> Iterator[tuple[Cursor, sql.Identifier]]:
    """A cursor in `database` for granting `user` its reads: CONNECT granted, and nobody may
    create in `public` (the default lets every login do so)."""
    role = sql.Identifier(user)
    conn = _connect(admin_dsn, database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role)
            )
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            yield cur, role
    finally:
        conn.close()


def grant_reader(admin_dsn: str, user: str, database: str, owners: Sequence[str] = ()) -> None:
    """The app's reads in `database`: its analytics tables (also future ones that the admin
    login or any of `owners`, the pipeline's writer, creates) and public.products."""
    from profiteer_pipeline.warehouse.products import PRODUCTS_DDL

    with _granting(admin_dsn, user, database) as (cur, _):
        cur.execute(PRODUCTS_DDL)
        for schema in READER_SCHEMAS:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            grants.grant_schema(cur, schema, readers=(user,), owners=owners)
        grants.grant_tables(cur, READER_TABLES, (user,), schema_usage=False)


def grant_model(admin_dsn: str, user: str, database: str) -> None:
    """MindsDB's reads in `database`: the training view, nothing else."""
    from profiteer_pipeline.warehouse.schema import SALES_DDL, SALES_FEATURES_DDL

    with _granting(admin_dsn, user, database) as (cur, _):
        cur.execute("SELECT to_regclass('public.sales_features') IS NULL")
        if cur.fetchone()[0]:  # CREATE OR REPLACE on an existing view could change its columns
            cur.execute(SALES_DDL)
            cur.execute(SALES_FEATURES_DDL)
        grants.grant_tables(cur, MODEL_TABLES, (user,), schema_usage=False)


def grant_shop_api(admin_dsn: str, user: str, database: str) -> None:
    """The shop API's reads in the shop's `database`: the store's table, nothing else."""
    from profiteer_pipeline.shop.store import SCHEMA, STORE_DDL, TABLE

    with _granting(admin_dsn, user, database) as (cur, role):
        cur.execute(STORE_DDL)
        cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(SCHEMA, TABLE), role))


def ensure_shop_api_role(admin_dsn: str, user: str, password: str, database: str) -> None:
    """The shop API's login: reads the store it serves, nothing more."""
    ensure_login(admin_dsn, user, password)
    grant_shop_api(admin_dsn, user, database)


def ensure_reader_role(
    admin_dsn: str, user: str, password: str, database: str, owners: Sequence[str] = ()
) -> None:
    """The app's login: reads the warehouse's analytics tables and products, nothing more."""
    ensure_login(admin_dsn, user, password)
    grant_reader(admin_dsn, user, database, owners)


def ensure_model_role(admin_dsn: str, user: str, password: str, database: str) -> None:
    """MindsDB's datasource login: reads the training view, nothing more."""
    ensure_login(admin_dsn, user, password)
    grant_model(admin_dsn, user, database)


# relations the writer takes over: tables, partitioned tables, views, materialized views,
# foreign tables, and sequences no table owns (an owned one follows its table)
_ADMIN_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT (c.relkind = 'S' AND EXISTS (
      SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.deptype IN ('a', 'i')))
ORDER BY c.relkind = 'S', n.nspname, c.relname
"""
_ADMIN_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
"""


def hand_over(admin_dsn: str, user: str, databases: Sequence[str]) -> None:
    """Make `user` the owner of `databases` and of what the admin login made in them (by these
    setups, or by an older version whose pipeline ran as the admin). Grants stay as they were."""
    role = sql.Identifier(user)
    conn = _connect(admin_dsn)
    try:
        with conn.cursor() as cur:
            for name in databases:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), role)
                )
    finally:
        conn.close()
    for name in databases:
        conn = _connect(admin_dsn, name)
        try:
            with conn.cursor() as cur:
                cur.execute(_ADMIN_SCHEMAS)
                for (schema,) in cur.fetchall():
                    cur.execute(
                        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), role)
                    )
                cur.execute(_ADMIN_RELATIONS)
                for schema, relation, kind in cur.fetchall():
                    verb = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(
                        kind, "FOREIGN TABLE" if kind == "f" else "TABLE"
                    )
                    cur.execute(
                        sql.SQL("ALTER " + verb + " {} OWNER TO {}").format(
                            sql.Identifier(schema, relation), role
                        )
                    )
        finally:
            conn.close()
