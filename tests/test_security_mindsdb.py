"""MindsDB, for real: hostile values stay values, and the datasource password stays secret.

- Strings that would break out of a literal are written by the model's SQL builder and echoed
  by the real MindsDB 25.14.1 parser unchanged (the pure rules are in test_model_pure.py).
- The model asset creates MindsDB's warehouse datasource with a distinctive password (quote
  included, so its SQL-escaped form is searched too), once successfully and once refused; its
  events, compute logs, our output and MindsDB's own server log never show it.
"""

from __future__ import annotations

import os
import re

import dagster as dg
import psycopg2
import pytest
from reliability_fixtures import event_texts, file_texts, leaks, recreate_database

from profiteer_pipeline.defs.model.assets import SPEC, sales_forecast
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import sql
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.stack.roles import ensure_model_role
from profiteer_pipeline.warehouse.schema import SALES_DDL, SALES_FEATURES_DDL

pytestmark = [pytest.mark.mindsdb, pytest.mark.timeout(600)]

HOSTILE = [
    "x' OR '1'='1",
    "x'); DROP DATABASE mindsdb; --",
    "x`; DROP MODEL mindsdb.sales_forecast; `",
    'a "double" quote',
    "semi; colon -- comment /* block */",
    "{json: 'like'}",
    "Pé ü 製品 🚀",
    "tab\tand\nnewline",
    "$$dollar$$",
    "%(name)s {0} %s",
]


@pytest.fixture(scope="module")
def client(mindsdb_url) -> MindsDBClient:
    return MindsDBClient(mindsdb_url, read_timeout=120)


def test_hostile_strings_are_echoed_unchanged(client):
    for value in HOSTILE:
        frame = client.query(f"SELECT {sql.string(value, 'probe')} AS v")
        assert frame.iloc[0, 0] == value, value
    # and as a WHERE value: a lookup that matches nothing, on a database list that stays whole
    before = set(client.query("SELECT NAME FROM information_schema.databases")["NAME"])
    for value in HOSTILE:
        frame = client.query(
            f"SELECT NAME FROM information_schema.databases WHERE NAME = {sql.string(value)}"  # noqa: S608
        )
        assert frame.empty, value
    assert set(client.query("SELECT NAME FROM information_schema.databases")["NAME"]) == before


@pytest.fixture(scope="module")
def model_warehouse(settings):
    """An empty warehouse (sales and its features view) and a model login with a distinctive
    password; MindsDB's datasource is dropped afterwards so the next user creates it afresh."""
    name = "security_model"
    recreate_database(settings.warehouse, name)
    dsn = settings.warehouse.with_database(name).dsn()
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(SALES_DDL)
        cur.execute(SALES_FEATURES_DDL)
    conn.close()
    password = "Md'Secret-" + os.urandom(8).hex() + "-x"
    # the model's login as `profiteer up` makes it: the training view only
    admin = settings.warehouse.with_database("postgres").dsn()
    ensure_model_role(admin, "security_model_reader", password, name)
    yield name, password


def test_datasource_password_stays_out_of_events_and_logs(
    model_warehouse, mindsdb_url, settings, state_root, tmp_path, capfd
):
    database, password = model_warehouse
    w = settings.warehouse
    warehouse = PostgresResource(
        host=w.host, port=w.port, user=w.user, password=w.password, database=database
    )

    def mindsdb(db: str) -> MindsDBResource:
        return MindsDBResource(
            url=mindsdb_url, warehouse_host=w.host, warehouse_port=w.port,
            warehouse_database=db, warehouse_user="security_model_reader",
            warehouse_password=password,
        )  # fmt: skip

    texts: dict[str, str] = {}
    (tmp_path / "instance").mkdir()
    # start without the datasource (earlier tests in the session leave one), so the asset must
    # create it with this password
    MindsDBClient(mindsdb_url).drop_datasources(SPEC.datasource)
    try:
        with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "instance")) as instance:
            # accepted: the datasource is created, then the asset stops on the empty view
            ok = dg.materialize(
                [sales_forecast], instance=instance, raise_on_error=False,
                resources={"mindsdb": mindsdb(database), "warehouse": warehouse},
            )  # fmt: skip
            assert not ok.success
            message = ok.failure_data_for_node(SPEC.name).user_failure_data.description
            assert "has no rows" in message, message
            # refused: MindsDB checks the connection, PostgreSQL says no
            refused = dg.materialize(
                [sales_forecast], instance=instance, raise_on_error=False,
                resources={"mindsdb": mindsdb("no_such_database"), "warehouse": warehouse},
            )  # fmt: skip
            assert not refused.success
            message = refused.failure_data_for_node(SPEC.name).user_failure_data.description
            assert "no_such_database" in message, message
            for result in (ok, refused):
                texts |= event_texts(instance, result.run_id)
        created = re.compile(rf"datasource {SPEC.datasource}_[0-9a-f]{{10}}: created")
        assert any(created.search(t) for t in texts.values())
        texts |= file_texts(tmp_path / "instance")
        server_log = state_root / "logs" / "mindsdb.log"
        if not os.environ.get("PROFITEER_TEST_MINDSDB_URL"):
            assert server_log.exists()
            texts[str(server_log)] = server_log.read_text(errors="replace")
        out, err = capfd.readouterr()
        texts |= {"stdout": out, "stderr": err}
        assert not leaks(texts, [password])
    finally:
        MindsDBClient(mindsdb_url).drop_datasources(SPEC.datasource)
