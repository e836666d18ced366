"""Security: no credential in logs, event metadata or captured output; keys and roles enforced.

Complements the owners' tests (401/403 basics in test_shop_api.py, loopback-only listening in
test_stack.py, the app's redacted outage banner in test_app.py):

- the hourly job runs with a distinctive database password and shop API key, on a Dagster
  instance with file-based compute logs; then every event (metadata included), every file of the
  instance, PyAirbyte's logs, the shop API's log and the test's own stdout/stderr are searched
  for them. Failing runs (a refused key, an unreachable warehouse) are searched the same way;
- near-miss and random API keys never get a record;
- the app logs in as the read-only role and never falls back to the admin login, and that role
  cannot write, whatever it tries (what each role may read: test_roles.py).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import pytest
from conftest import free_port
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from ingest_fixtures import api_key, shop_api  # noqa: F401 - fixtures
from reliability_fixtures import PrivatePipeline, event_texts, file_texts, leaks
from streamlit.testing.v1 import AppTest

from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
from profiteer_pipeline.defs.ingest.assets import raw_sales, sales
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.settings import PgUrl

REPO = Path(__file__).resolve().parent.parent
SALES = "/api/v1/sales"
KEY = "2026-06-01-08:00"


@pytest.fixture(scope="module")
def secret_pipeline(settings, state_root):
    """A private pipeline whose database login and shop API key are distinctive secrets."""
    password = "Db-Secret-" + os.urandom(8).hex() + "-x"
    key = "Shop-Key-" + os.urandom(8).hex()
    admin = psycopg2.connect(settings.warehouse.with_database("postgres").dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS security_owner")
        cur.execute("CREATE ROLE security_owner LOGIN SUPERUSER PASSWORD %s", (password,))
    admin.close()
    w = settings.warehouse
    login = PgUrl("security_owner", password, w.host, w.port, "postgres")
    p = PrivatePipeline("security", login, state_root / "security", free_port(), key).create()
    p.start_api()
    yield p
    p.stop_api()


def test_no_credential_in_events_logs_or_output(secret_pipeline, tmp_path, capfd):
    p = secret_pipeline
    secrets = [p.admin.password, p.api_key]
    (tmp_path / "instance").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "instance")) as instance:
        result = p.run(KEY, instance=instance)
        assert result.success
        texts = event_texts(instance, result.run_id)
        # the run did log and record metadata, so the search below has something to search
        assert any("wrote 15 rows" in t for t in texts.values())
        assert any("security_owner:***@" in t for t in texts.values())  # the redacted URL
    texts |= file_texts(tmp_path / "instance", p.state)  # compute logs, PyAirbyte, shop API
    assert any("compute_logs" in where or "storage" in where for where in texts)
    out, err = capfd.readouterr()
    texts |= {"stdout": out, "stderr": err}
    assert out or err
    assert not leaks(texts, secrets)


def test_no_credential_when_runs_fail(secret_pipeline, tmp_path, capfd):
    """Failures are where credentials usually slip out: connection errors, connector errors."""
    p = secret_pipeline
    wrong_key = "Wrong-Key-" + os.urandom(8).hex()
    resources = p.resources()
    refused = EmbeddedAirbyte(
        warehouse=resources["warehouse"], api_url=p.api_url, api_key=wrong_key,
        work_dir=str(p.state / "airbyte"),
    )  # fmt: skip
    closed = free_port()
    unreachable = PostgresResource(
        host="127.0.0.1", port=closed, user=p.admin.user, password=p.admin.password,
        database=p.warehouse_db,
    )  # fmt: skip
    texts: dict[str, str] = {}
    (tmp_path / "instance").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "instance")) as instance:
        bad_key = dg.materialize(
            [raw_sales], partition_key=KEY, resources={"airbyte": refused},
            instance=instance, raise_on_error=False,
        )  # fmt: skip
        assert not bad_key.success
        message = bad_key.failure_data_for_node("raw_sales").user_failure_data.description
        assert "403" in message and "invalid API key" in message and p.api_url in message
        no_db = dg.materialize(
            [sales], partition_key=KEY, resources={"warehouse": unreachable},
            instance=instance, raise_on_error=False,
        )  # fmt: skip
        assert not no_db.success
        message = no_db.failure_data_for_node("sales").user_failure_data.description
        assert f"security_owner:***@127.0.0.1:{closed}" in message
        for result in (bad_key, no_db):
            texts |= event_texts(instance, result.run_id)
    texts |= file_texts(tmp_path / "instance", p.state)
    out, err = capfd.readouterr()
    texts |= {"stdout": out, "stderr": err}
    assert not leaks(texts, [p.admin.password, p.api_key, wrong_key])


# --- the shop API's key -----------------------------------------------------------------------


def near_misses(key: str) -> list[str]:
    return [
        key[:-1],  # a prefix
        key + "0",  # one character more
        key.upper() if key != key.upper() else key.lower(),
        key[::-1],
        key[1:] + key[0],
        key * 2,
        key.replace(key[-1], chr(ord(key[-1]) ^ 1)),  # one bit flipped
        "",
        "null",
        "*",
        f"{key[:8]}%",  # a LIKE pattern
        "' OR '1'='1",
    ]


def test_near_miss_keys_get_nothing(shop_api, api_key):  # noqa: F811
    for candidate in near_misses(api_key):
        response = httpx.get(shop_api + SALES, headers={"X-API-Key": candidate})
        assert response.status_code in (401, 403), (candidate, response.status_code)
        assert "records" not in response.text
    # the key in the wrong place: a query parameter or a cookie is not the header
    for kwargs in ({"params": {"X-API-Key": api_key, "api_key": api_key}},
                   {"cookies": {"X-API-Key": api_key}},
                   {"headers": {"Authorization": f"Bearer {api_key}"}}):  # fmt: skip
        response = httpx.get(shop_api + SALES, **kwargs)
        assert response.status_code == 401, kwargs


@hyp_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(candidate=st.text(alphabet=string.printable.strip(), min_size=1, max_size=80))
def test_random_keys_get_nothing(shop_api, api_key, candidate):  # noqa: F811
    response = httpx.get(shop_api + SALES, headers={"X-API-Key": candidate})
    if candidate.strip() == api_key:
        return  # hypothesis will not find it, but a test must not claim the impossible
    assert response.status_code in (401, 403), (candidate, response.status_code)
    assert "records" not in response.text


# --- the app's read-only login ----------------------------------------------------------------


def test_app_code_reads_through_the_reader_login(settings, monkeypatch):
    from profiteer_app import ui

    target = ui.warehouse()
    assert target.url == settings.reader
    assert target.url.user == settings.reader_user != settings.warehouse.user
    # and nothing in the app reaches for the admin login
    for path in (REPO / "profiteer_app").rglob("*.py"):
        text = path.read_text()
        for token in ("PROFITEER_PG_PASSWORD", "PROFITEER_PG_USER", ".warehouse.dsn(",
                      "settings.warehouse", ".load().warehouse"):  # fmt: skip
            assert token not in text, (path.name, token)


def test_app_never_falls_back_to_the_admin_login(settings, monkeypatch):
    """With the admin login valid but the reader's password wrong, the app cannot read a thing."""
    from app_fixtures import HOME, closed_port, point_app_at

    point_app_at(monkeypatch, settings.warehouse, f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("PROFITEER_READER_PASSWORD", "not-the-reader-password")
    at = AppTest.from_file(HOME, default_timeout=30).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "password authentication failed" in errors[0], errors
    assert f"{settings.reader_user}:***@" in errors[0]


@pytest.mark.parametrize("database", ["warehouse", "shop", "dagster"])
def test_reader_role_cannot_write(settings, database):
    """Every kind of write, straight on the role (not through the app's read-only sessions).
    Only the warehouse lets it connect at all (test_roles.py covers what it may read)."""
    if database != "warehouse":
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            psycopg2.connect(settings.reader.with_database(database).dsn())
        return
    admin = psycopg2.connect(settings.warehouse.with_database(database).dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS public.security_probe (x int)")
    admin.close()
    reader = settings.reader.with_database(database)
    attempts = [
        "INSERT INTO public.security_probe VALUES (1)",
        "UPDATE public.security_probe SET x = 2",
        "DELETE FROM public.security_probe",
        "TRUNCATE public.security_probe",
        "DROP TABLE public.security_probe",
        "ALTER TABLE public.security_probe ADD COLUMN y int",
        "CREATE TABLE public.reader_made (x int)",
        "CREATE SCHEMA reader_schema",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        f"ALTER ROLE {settings.reader_user} SUPERUSER",
        "CREATE ROLE reader_friend LOGIN",
        "SET ROLE postgres",
        "COPY public.security_probe FROM STDIN",
    ]
    refused = []
    for statement in attempts:
        conn = psycopg2.connect(reader.dsn())
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
            conn.commit()
        except psycopg2.errors.InsufficientPrivilege:
            refused.append(statement)
        except psycopg2.ProgrammingError as exc:  # COPY FROM STDIN without a file: got past auth
            pytest.fail(f"{statement!r} was allowed as far as {exc}")
        finally:
            conn.close()
    assert refused == attempts
    # GRANT by a non-owner: refused where the role holds nothing, only a warning in PostgreSQL
    # where it may read; check that it granted nothing
    conn = psycopg2.connect(reader.dsn())
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
        cur.execute("GRANT ALL ON public.security_probe TO PUBLIC")
    conn.close()
    conn = psycopg2.connect(reader.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("GRANT ALL ON public.products TO PUBLIC")
        for table in ("public.security_probe", "public.products"):
            cur.execute(
                "SELECT has_table_privilege(%s, %s, 'INSERT')", (settings.reader_user, table)
            )
            assert cur.fetchone()[0] is False, table
    conn.close()
