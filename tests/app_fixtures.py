"""Fixtures for the app's tests: a warehouse with generated sales and metrics, a trained model.

Load them in a test module with `pytest_plugins = ["app_fixtures"]`. The data lives in
its own database on the session's embedded PostgreSQL, and the model under its own name on the
session's MindsDB, so nothing is shared with the pipeline's tests. `app_env` points the app's
environment (PROFITEER_DATABASE_URL, MINDSDB_URL, PROFITEER_MODEL) at them for one test only.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg2
import pytest
import streamlit as st

from profiteer_app.sample_data import prepare_warehouse, recreate_database, train_model
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.spec import ModelSpec
from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.stack.roles import grant_reader

REPO = Path(__file__).resolve().parents[1]
HOME = str(REPO / "profiteer_app" / "Home.py")
START = datetime(2026, 3, 1, tzinfo=UTC)
HOURS = 84  # three full UTC days and half of a fourth: the latest day is partial (12 hours)
TRAIN_SINCE = datetime(2026, 3, 1, tzinfo=UTC)  # all 1,260 rows: trains in ~20 s
APP_DB = "profiteer_app_test"
APP_MODEL = ModelSpec(name="app_test_forecast", datasource="app_test_warehouse")


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_db(settings) -> PgUrl:
    """The app's test warehouse: 84 hours of the default catalog, products and every metric."""
    url = recreate_database(settings.warehouse, APP_DB)
    prepare_warehouse(url, START, HOURS)
    grant_reader(url.dsn(), settings.reader_user, url.database)  # the app's reads, as on `up`
    return url


@pytest.fixture(scope="session")
def app_model(app_db, mindsdb_url) -> ModelSpec:
    """`mindsdb.app_test_forecast`, trained once per session on the app's test warehouse."""
    train_model(mindsdb_url, APP_MODEL, app_db, since=TRAIN_SINCE)
    warm_up(mindsdb_url, APP_MODEL)
    return APP_MODEL


def warm_up(mindsdb_url: str, spec: ModelSpec) -> None:
    """One prediction with a long timeout: the first after MindsDB starts takes ~18 s or more
    (its ML worker starts cold), longer than the app's timeout on a busy machine."""
    row = {"views": 10000, "cart_adds": 500, "price_ratio": 1.0, "popularity_factor": 1.0,
           "time_of_day_bucket": "Afternoon", "category": "Laptops", "hour_of_day": 15,
           "rating": 4.0}  # fmt: skip
    client = MindsDBClient(mindsdb_url, read_timeout=300)
    client.predict(spec.name, pd.DataFrame([{f: row[f] for f in spec.features}]), spec.project)


def point_app_at(
    monkeypatch: pytest.MonkeyPatch,
    warehouse: PgUrl,
    mindsdb_url: str,
    model: str = APP_MODEL.qualified_name,
) -> None:
    """The environment `profiteer up` would give the app, aimed at these servers; the reader
    gets its grants in that database (as `profiteer up` gives them in the warehouse)."""
    grant_reader(warehouse.dsn(), os.environ.get("PROFITEER_READER_USER", "profiteer_reader"),
                 warehouse.database)  # fmt: skip
    monkeypatch.setenv("PROFITEER_DATABASE_URL", warehouse.dsn())
    monkeypatch.setenv("PROFITEER_PG_HOST", warehouse.host)
    monkeypatch.setenv("PROFITEER_PG_PORT", str(warehouse.port))
    monkeypatch.setenv("PROFITEER_WAREHOUSE_DB", warehouse.database)
    monkeypatch.setenv("MINDSDB_URL", mindsdb_url)
    monkeypatch.setenv("PROFITEER_MODEL", model)
    st.cache_data.clear()


@pytest.fixture
def app_env(app_db, monkeypatch) -> PgUrl:
    """The app's environment on the test warehouse, with MindsDB pointing at a closed port."""
    point_app_at(monkeypatch, app_db, f"http://127.0.0.1:{closed_port()}")
    yield app_db
    st.cache_data.clear()


@pytest.fixture
def app_env_model(app_db, app_model, mindsdb_url, monkeypatch) -> PgUrl:
    """The app's environment on the test warehouse and the session's MindsDB with a trained model."""
    point_app_at(monkeypatch, app_db, mindsdb_url)
    yield app_db
    st.cache_data.clear()


def query(url: PgUrl, statement: str, params=None) -> list[tuple]:
    """Read the expected values with the admin login (independent of the app's reader)."""
    conn = psycopg2.connect(url.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()
