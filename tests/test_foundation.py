"""The foundation: settings, the embedded PostgreSQL over TCP, the code location loads."""

import dagster as dg
import psycopg2
import pytest

from profiteer_pipeline.settings import PgUrl


def test_pg_url_round_trip_quotes_password():
    url = PgUrl("postgres", "p@ss:w/rd", "127.0.0.1", 5433, "warehouse")
    back = PgUrl.parse(url.dsn())
    assert back == url
    assert "p@ss" not in url.redacted()


def test_embedded_postgres_listens_on_loopback_tcp(settings):
    conn = psycopg2.connect(settings.warehouse.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("SELECT inet_server_addr()::text, current_setting('listen_addresses')")
        addr, listen = cur.fetchone()
    conn.close()
    assert addr.startswith("127.0.0.1")
    assert listen == "127.0.0.1"


def test_password_is_required_over_tcp(settings):
    wrong = PgUrl(
        settings.warehouse.user,
        "wrong",
        settings.warehouse.host,
        settings.warehouse.port,
        "warehouse",
    )
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong.dsn())


def test_reader_role_cannot_write(settings):
    conn = psycopg2.connect(settings.reader.dsn())
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE TABLE public.should_not_exist (x int)")
    finally:
        conn.close()


def test_definitions_load():
    from profiteer_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
