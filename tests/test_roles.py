"""Each database login can do what its consumer needs and nothing else, on the session's server
(whose roles the pg_server fixture makes with stack/roles.py, as `profiteer up` does).

- PUBLIC cannot connect to warehouse, shop or dagster: a login with no grant is refused;
- the app's reader connects to the warehouse only, reads the analytics tables (also one created
  after its grants) and public.products, and nothing else there: not sales, not the training
  view, not airbyte_raw; it writes nowhere (not even a temporary table);
- the shop API's login connects to `shop` only and reads the store's table, nothing else;
- MindsDB's login connects to the warehouse only and reads the training view and nothing else;
- the pipeline's writer owns the three databases and writes there, and the reader can read the
  analytics tables it creates; it is no superuser: no roles, databases, files or programs;
- the admin login still reaches everything;
- a reader made by an older version (pg_read_all_data) loses that role on the next setup.
"""

# ruff: noqa: S608 - the statements name this module's own constant tables

from __future__ import annotations

import psycopg2
import pytest
from conftest import PIPELINE_PASSWORD, PIPELINE_USER, SHOP_API_PASSWORD, SHOP_API_USER
from psycopg2 import errors

from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.stack.roles import ensure_model_role, ensure_reader_role

DATABASES = ("warehouse", "shop", "dagster")
PROBE = "analytics.roles_probe"  # created by the pipeline's login after the roles' grants
PROBE_PRODUCT = "ROLES_PROBE"  # the rows probe_rows writes to the tables the logins read
PROBE_HOUR = "2001-01-01 00:00:00+00"  # long before any window the other tests write
PROBE_RECORD = {
    "timestamp": PROBE_HOUR,
    "product_id": PROBE_PRODUCT,
    "product_name": "Roles probe",
    "product_image": "probe.png",
    "category": "Probes",
    "price_strategy": "fixed",
    "category_popularity": 1.0,
    "base_price": 10.0,
    "current_price": 10.0,
    "popularity_factor": 1.0,
    "rating": 4.0,
    "time_of_day_bucket": "Night",
    "views": 10,
    "cart_adds": 2,
    "purchases": 1,
}


def admin_run(settings, database: str, *statements: str) -> None:
    conn = psycopg2.connect(settings.warehouse.with_database(database).dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def attempt(login: PgUrl, statement: str) -> list[tuple]:
    """Run one statement as `login` in its own connection; its rows."""
    conn = psycopg2.connect(login.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def same_rows_as_admin(settings, login: PgUrl, table: str) -> int:
    """`login` counts as many rows in `table` as the admin (a superuser: every row) does, and
    there are some: a login that reads an empty table, or only part of it, fails."""
    statement = f"SELECT count(*) FROM {table}"
    ((everything,),) = attempt(settings.warehouse.with_database(login.database), statement)
    assert everything > 0, f"{table} is empty for the admin too: the count compares nothing"
    ((seen,),) = attempt(login, statement)
    assert seen == everything, f"{login.user} sees {seen} of the {everything} rows of {table}"
    return seen


def refused(login: PgUrl, statement: str) -> str:
    """The InsufficientPrivilege message PostgreSQL gives `login` for `statement`."""
    with pytest.raises(errors.InsufficientPrivilege) as caught:
        attempt(login, statement)
    return str(caught.value).splitlines()[0]


def cannot_connect(login: PgUrl, database: str) -> None:
    with pytest.raises(psycopg2.OperationalError) as caught:
        psycopg2.connect(login.with_database(database).dsn()).close()
    message = str(caught.value)
    assert f'permission denied for database "{database}"' in message, message
    assert "User does not have CONNECT privilege." in message, message


@pytest.fixture(scope="module")
def warehouse_objects(settings):
    """What the pipeline creates in the warehouse, some of it after the roles got their grants."""
    admin_run(
        settings,
        "warehouse",
        "CREATE SCHEMA IF NOT EXISTS airbyte_raw",
        "CREATE TABLE IF NOT EXISTS airbyte_raw.roles_probe (x int)",
        f"DROP TABLE IF EXISTS {PROBE}",
        f"CREATE TABLE {PROBE} (x int)",  # after the grants: default privileges must cover it
        f"INSERT INTO {PROBE} VALUES (7)",
    )
    yield
    admin_run(
        settings, "warehouse", f"DROP TABLE IF EXISTS {PROBE}", "DROP TABLE airbyte_raw.roles_probe"
    )


@pytest.fixture(scope="module")
def probe_rows(settings):
    """One row, written as the admin, in each table a login is meant to read: products and sales
    (so sales_features) in the warehouse, the store's table in shop. Removed afterwards."""
    columns = ", ".join(f'"{c}"' for c in PROBE_RECORD)
    values = ", ".join(["%s"] * len(PROBE_RECORD))
    tables = (("warehouse", "public.sales"), ("shop", "public.shop_sales"))
    for database, table in tables:
        conn = psycopg2.connect(settings.warehouse.with_database(database).dsn())
        try:
            with conn, conn.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {table} ({columns}) VALUES ({values})",
                    list(PROBE_RECORD.values()),
                )
        finally:
            conn.close()
    admin_run(
        settings,
        "warehouse",
        "INSERT INTO public.products (product_id, product_name, product_image, category, "
        "base_price, base_rating, price_strategy, min_price, max_price) VALUES "
        f"('{PROBE_PRODUCT}', 'Roles probe', 'probe.png', 'Probes', 10, 4, 'fixed', 5, 20)",
    )
    yield
    admin_run(
        settings, "warehouse", f"DELETE FROM public.products WHERE product_id = '{PROBE_PRODUCT}'"
    )
    for database, table in tables:
        admin_run(settings, database, f"DELETE FROM {table} WHERE product_id = '{PROBE_PRODUCT}'")


@pytest.fixture(scope="module")
def nobody(settings):
    """A login with no grant at all: what PUBLIC may do."""
    admin_run(
        settings,
        "postgres",
        "DROP ROLE IF EXISTS roles_nobody",
        "CREATE ROLE roles_nobody LOGIN PASSWORD 'nobody-pw'",
    )
    w = settings.warehouse
    yield PgUrl("roles_nobody", "nobody-pw", w.host, w.port, "warehouse")
    admin_run(settings, "postgres", "DROP ROLE roles_nobody")


def test_public_cannot_connect_to_the_stacks_databases(nobody):
    for database in DATABASES:
        cannot_connect(nobody, database)
    psycopg2.connect(nobody.with_database("postgres").dsn()).close()  # only ours are closed


def test_the_admin_login_reaches_every_database(settings):
    for database in DATABASES:
        assert attempt(settings.warehouse.with_database(database), "SELECT 1") == [(1,)]


# --- the app's reader -----------------------------------------------------------------------


def test_reader_connects_to_the_warehouse_only(settings):
    assert attempt(settings.reader, "SELECT current_user") == [(settings.reader_user,)]
    for database in ("shop", "dagster"):
        cannot_connect(settings.reader, database)


def test_reader_reads_the_analytics_tables_and_products(settings, warehouse_objects, probe_rows):
    reader = settings.reader
    assert attempt(reader, f"SELECT x FROM {PROBE}") == [(7,)]  # created after the grants
    same_rows_as_admin(settings, reader, "public.products")  # every row, not an empty read
    assert attempt(reader, "SELECT has_schema_privilege('analytics', 'USAGE')") == [(True,)]


def test_reader_reads_nothing_else(settings, warehouse_objects):
    reader = settings.reader
    for kind, table in (("table", "sales"), ("view", "sales_features")):
        message = refused(reader, f"SELECT * FROM public.{table}")
        assert message == f"permission denied for {kind} {table}"
    message = refused(reader, "SELECT * FROM airbyte_raw.roles_probe")
    assert message == "permission denied for schema airbyte_raw"
    member = "SELECT pg_has_role(current_user, %s, 'MEMBER')"
    for broad in ("pg_read_all_data", "pg_write_all_data"):
        assert attempt(reader, member.replace("%s", f"'{broad}'")) == [(False,)]


def test_reader_writes_nowhere(settings, warehouse_objects):
    reader = settings.reader
    expected = {
        f"INSERT INTO {PROBE} VALUES (1)": "permission denied for table roles_probe",
        f"UPDATE {PROBE} SET x = 2": "permission denied for table roles_probe",
        f"DELETE FROM {PROBE}": "permission denied for table roles_probe",
        "INSERT INTO public.products (product_id) VALUES ('x')": "permission denied for table products",
        "CREATE TABLE public.reader_made (x int)": "permission denied for schema public",
        "CREATE TABLE analytics.reader_made (x int)": "permission denied for schema analytics",
        "CREATE SCHEMA reader_schema": "permission denied for database warehouse",
        "CREATE TEMP TABLE reader_temp (x int)": (
            'permission denied to create temporary tables in database "warehouse"'
        ),
        "CREATE VIEW analytics.reader_view AS SELECT 1": "permission denied for schema analytics",
    }
    for statement, message in expected.items():
        assert refused(reader, statement) == message, statement


# --- the shop API's login ------------------------------------------------------------------------


def test_shop_api_login_reads_its_store_only(settings, probe_rows):
    w = settings.warehouse
    shop_api = PgUrl(SHOP_API_USER, SHOP_API_PASSWORD, w.host, w.port, "shop")
    same_rows_as_admin(settings, shop_api, "public.shop_sales")
    for database in ("warehouse", "dagster"):
        cannot_connect(shop_api, database)
    expected = {
        "INSERT INTO public.shop_sales (product_id) VALUES ('x')": (
            "permission denied for table shop_sales"
        ),
        "DELETE FROM public.shop_sales": "permission denied for table shop_sales",
        "CREATE TABLE public.api_made (x int)": "permission denied for schema public",
        "CREATE TEMP TABLE api_temp (x int)": (
            'permission denied to create temporary tables in database "shop"'
        ),
    }
    for statement, message in expected.items():
        assert refused(shop_api, statement) == message, statement


# --- MindsDB's datasource login ---------------------------------------------------------------


def test_model_login_connects_to_the_warehouse_only(settings):
    assert attempt(settings.model, "SELECT current_user") == [(settings.model_user,)]
    for database in ("shop", "dagster"):
        cannot_connect(settings.model, database)


def test_model_login_reads_the_training_view_only(settings, warehouse_objects, probe_rows):
    model = settings.model
    same_rows_as_admin(settings, model, "public.sales_features")
    for table in ("sales", "products"):
        message = refused(model, f"SELECT * FROM public.{table}")
        assert message == f"permission denied for table {table}"
    assert refused(model, f"SELECT * FROM {PROBE}") == "permission denied for schema analytics"
    message = refused(model, "SELECT * FROM airbyte_raw.roles_probe")
    assert message == "permission denied for schema airbyte_raw"


def test_model_login_writes_nowhere(settings, warehouse_objects):
    model = settings.model
    expected = {
        "INSERT INTO public.sales_features (product_id) VALUES ('x')": (
            "permission denied for view sales_features"
        ),
        "CREATE TABLE public.model_made (x int)": "permission denied for schema public",
        "CREATE SCHEMA model_schema": "permission denied for database warehouse",
        "CREATE TEMP TABLE model_temp (x int)": (
            'permission denied to create temporary tables in database "warehouse"'
        ),
    }
    for statement, message in expected.items():
        assert refused(model, statement) == message, statement


# --- the pipeline's writer ----------------------------------------------------------------------


@pytest.fixture
def writer(settings) -> PgUrl:
    w = settings.warehouse
    return PgUrl(PIPELINE_USER, PIPELINE_PASSWORD, w.host, w.port, "warehouse")


def test_writer_owns_and_writes_the_stacks_databases(settings, writer):
    for database in DATABASES:
        login = writer.with_database(database)
        assert attempt(login, "SELECT pg_get_userbyid(datdba) FROM pg_database "
                       "WHERE datname = current_database()") == [(PIPELINE_USER,)]  # fmt: skip
        attempt(login, "CREATE TABLE writer_probe (x int); INSERT INTO writer_probe VALUES (1)")
        assert attempt(login, "SELECT x FROM writer_probe") == [(1,)]
        attempt(login, "DROP TABLE writer_probe")
    # what `profiteer up` made as the admin was handed over: the writer replaces the products
    owners = attempt(writer, "SELECT DISTINCT tableowner FROM pg_tables "
                     "WHERE schemaname IN ('public', 'analytics')")  # fmt: skip
    assert PIPELINE_USER in {o for (o,) in owners}
    assert attempt(writer, "SELECT pg_get_userbyid(relowner) FROM pg_class "
                   "WHERE oid = 'public.sales_features'::regclass") == [(PIPELINE_USER,)]  # fmt: skip


def test_reader_reads_the_analytics_tables_the_writer_creates(settings, writer):
    attempt(
        writer,
        "CREATE TABLE analytics.writer_made (x int); INSERT INTO analytics.writer_made VALUES (3)",
    )
    try:
        assert attempt(settings.reader, "SELECT x FROM analytics.writer_made") == [(3,)]
        assert attempt(settings.model.with_database("warehouse"), "SELECT 1") == [(1,)]
        assert refused(settings.model, "SELECT * FROM analytics.writer_made") == (
            "permission denied for schema analytics"
        )
    finally:
        attempt(writer, "DROP TABLE analytics.writer_made")


def test_writer_is_no_superuser(settings, writer):
    expected = {
        "CREATE ROLE writer_friend LOGIN": "permission denied to create role",
        "ALTER ROLE postgres PASSWORD 'x'": "permission denied to alter role",
        "SET ROLE postgres": 'permission denied to set role "postgres"',
        "SELECT pg_read_file('/etc/hostname')": "permission denied for function pg_read_file",
        "COPY (SELECT 1) TO PROGRAM 'true'": (
            "permission denied to COPY to or from an external program"
        ),
    }
    for statement, message in expected.items():
        assert refused(writer, statement) == message, statement
    conn = psycopg2.connect(writer.dsn())
    conn.autocommit = True  # CREATE DATABASE refuses a transaction before it checks privileges
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied to create database"):
        conn.cursor().execute("CREATE DATABASE writer_db")
    conn.close()
    assert attempt(writer, "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                   "WHERE rolname = current_user") == [(False, False, False)]  # fmt: skip


# --- the setup itself ---------------------------------------------------------------------------


def test_setup_takes_back_what_an_older_version_granted(settings, probe_rows):
    """The reader used to hold pg_read_all_data (so it read shop and dagster's tables too)."""
    admin = settings.warehouse.with_database("postgres").dsn()
    admin_run(settings, "postgres", f"GRANT pg_read_all_data TO {settings.reader_user}")
    same_rows_as_admin(settings, settings.reader, "public.sales")  # it could
    ensure_reader_role(admin, settings.reader_user, settings.reader_password, "warehouse")
    assert refused(settings.reader, "SELECT * FROM public.sales") == (
        "permission denied for table sales"
    )
    # and running the setup again changes nothing for either role
    ensure_model_role(admin, settings.model_user, settings.model_password, "warehouse")
    same_rows_as_admin(settings, settings.model, "public.sales_features")
