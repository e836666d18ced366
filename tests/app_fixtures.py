"""Fixtures for the app's tests: a warehouse with generated sales and metrics, a trained model.

Load them in a test module with `pytest_plugins = ["app_fixtures"]`. The data lives in
its own database on the session's embedded PostgreSQL, and the model under its own name on the
session's MindsDB, so nothing is shared with the pipeline's tests. `app_env` points the app's
environment (PROFITEER_DATABASE_URL, MINDSDB_URL, PROFITEER_MODEL) at them for one test only.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import pytest
import streamlit as st
from psycopg2 import sql as pgsql

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
    spec, _ = train_model(mindsdb_url, APP_MODEL, app_db, since=TRAIN_SINCE)
    warm_up(mindsdb_url, spec)
    return spec


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


# --- an imported order export, for the app's source switch ------------------------------------

IMPORT_DB = "profiteer_app_imports"
IMPORTED = "test_shop"  # imported first, with the model's tables
FRESH = "fresh_shop"  # imported second (newest), no model yet
# the fixture's known demand: units/day = U0 × (INTERCEPT + SLOPE × price/base), revenue peaks at
# price/base = 0.917; the stored model points step around it (STEP) as a tree model's do
INTERCEPT, SLOPE, STEP = 2.2, -1.2, 0.04
CURVE_POINTS = 21


def order_export() -> str:
    """A plain-layout export (timestamp, product_id, quantity, price, name, category, order id):
    14 days of a mug at three prices and a towel at two, a lamp sold twice (too little data),
    one return, one zero price and one duplicated line (both rejected)."""
    rows = ["timestamp,order_id,product_id,product_name,category,quantity,price"]
    order = 1000
    for day in range(14):
        date = f"2025-03-{day + 1:02d}"
        for hour in (9, 13, 17):
            order += 1
            rows.append(f"{date} {hour}:15:00,{order},MUG,Blue Mug,Kitchen,"
                        f"{1 + (day + hour) % 3},{(10.0, 11.0, 12.0)[day % 3]:.2f}")  # fmt: skip
        order += 1
        rows.append(f"{date} 13:40:00,{order},TOWEL,Tea Towel,Kitchen,2,{5.5 if day % 2 else 5.0}")
        if day in (0, 7):
            order += 1
            rows.append(f"{date} 18:05:00,{order},LAMP,Desk Lamp,Home,1,40.00")
    rows.append("2025-03-04 10:00:00,9001,MUG,Blue Mug,Kitchen,-1,11.00")  # a return
    rows.append("2025-03-05 10:00:00,9002,TOWEL,Tea Towel,Kitchen,1,0")  # zero price
    rows.append(rows[1])  # a duplicated line
    return "\n".join(rows) + "\n"


def model_ddl(schema: str) -> pgsql.Composed:
    """The model tables as `import_forecast` creates them (their declarations)."""
    from profiteer_pipeline.warehouse.source_tables import IMPORT_RESULTS

    return pgsql.SQL(" ").join(t.in_schema(schema).ddl for t in IMPORT_RESULTS.values())


#: the stored backtest: the model below the 28-day mean and the seasonal naive on both metrics
EVALUATION = {"model_rmsse": 0.8, "seasonal_naive_rmsse": 1.3, "trailing_mean_rmsse": 1.1,
              "model_poisson_deviance": 0.6, "seasonal_naive_poisson_deviance": 1.0,
              "trailing_mean_poisson_deviance": 0.9, "model_mae": 0.5, "seasonal_naive_mae": 0.7,
              "trailing_mean_mae": 0.6}  # fmt: skip
#: which products and days the stored model saw, caps included (the run's `Selection.reason`)
SELECTION = ("2 of 3 products with enough data, at product-day; the latest 10 of 14 days; row "
             "budget 20 product-days")  # fmt: skip
#: the stored elasticities: MUG and TOWEL their own (below zero), LAMP the shop's (pooled)
ELASTICITY = {"MUG": (-1.4, -1.9, -0.9, "own"), "TOWEL": (-1.1, -1.5, -0.7, "own"),
              "LAMP": (-1.25, -2.0, -0.5, "pooled")}  # fmt: skip


def known_curve(base: float, lo: float, hi: float, units_at_base: float) -> pd.DataFrame:
    """The model's stored points: the known line plus a step pattern (-STEP, 0, +STEP of U0)."""
    import numpy as np

    price = np.round(np.linspace(lo, hi, CURVE_POINTS), 2)
    steps = STEP * units_at_base * (np.arange(len(price)) % 3 - 1)
    units = units_at_base * (INTERCEPT + SLOPE * price / base) + steps
    return pd.DataFrame(
        {"price": price, "price_ratio": price / base, "units_per_day": units,
         "revenue_per_day": units * price}
    )  # fmt: skip


def write_features(conn, schema: str, products: pd.DataFrame, modelled: list[str]) -> None:
    """`model_features` of the modelled products, built from the import's order lines by the
    pipeline's own code (as `import_forecast` does): the observed days the pages show."""
    from profiteer_pipeline.model import daily_features as mf
    from profiteer_pipeline.model import elasticity, forecast

    lines = forecast.read_sale_lines(conn, schema, [])
    last = products["last_hour"].max().tz_convert(None)
    panel = elasticity.daily_panel(lines[lines["product_id"].isin(modelled)], last_day=last)
    forecast.write_features(conn, schema, mf.build(panel, products), None)


def write_model_tables(url: PgUrl, name: str) -> dict[str, pd.DataFrame]:
    """The tables `import_forecast` writes, per the contract, from a known curve: MUG and TOWEL
    with advice (read from the demand line fitted to the stored points, by the pipeline's own
    rule), LAMP too little data. Returns the stored curves by product."""
    schema = f"import_{name}"

    def t(table: str) -> pgsql.Identifier:
        return pgsql.Identifier(schema, table)

    products = pd.DataFrame(
        query(url, pgsql.SQL("SELECT product_id, product_name, category, base_price, min_price,"
                             " max_price, units, first_hour, last_hour FROM {}").format(
                                 t("products"))),
        columns=["product_id", "product_name", "category", "base_price", "min_price",
                 "max_price", "units", "first_hour", "last_hour"],
    ).set_index("product_id")  # fmt: skip
    from profiteer_pipeline.pricing import advice_table
    from profiteer_pipeline.pricing.curves import smoothed

    curves, advice = {}, []
    conn = psycopg2.connect(url.dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(model_ddl(schema))
            for pid, p in products.iterrows():
                base, lo, hi = float(p["base_price"]), float(p["min_price"]), float(p["max_price"])
                days = (p["last_hour"] - p["first_hour"]).days + 1
                if pid == "LAMP":
                    advice.append((pid, p["product_name"], p["category"], base, None, None, None,
                                   None, None, None, 2, 1, "too_little_data",
                                   "2 sale hours at 1 price: too few to tell how sales respond "
                                   "to the price", *ELASTICITY[pid], base, None, None, None, None, None, None, "revenue",
                                   None, None, "too_little_data"))  # fmt: skip
                    continue
                curve = known_curve(base, lo, hi, float(p["units"]) / days)
                curves[pid] = curve
                for row in curve.itertuples(index=False):
                    cur.execute(
                        pgsql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)").format(
                            t("price_curves")), (pid, *map(float, row)))  # fmt: skip
                # the advice reads the demand line fitted to the points, as import_forecast does
                fit = smoothed(curve.assign(product_id=pid))
                at_base = fit.iloc[(fit["price"] - base).abs().argmin()]
                best = fit.loc[fit["fit_revenue"].idxmax()]
                uplift = (best["fit_revenue"] / at_base["fit_revenue"] - 1) * 100
                advice.append((pid, p["product_name"], p["category"], base,
                               float(best["price"]), float(at_base["fit_units"]),
                               float(best["fit_units"]), float(at_base["fit_revenue"]),
                               float(best["fit_revenue"]), float(uplift), 40, 3, "advice",
                               "40 sale hours at 3 prices; sales fall as the price rises",
                               *ELASTICITY[pid], base, float(at_base["fit_units"]),
                               float(at_base["fit_revenue"]), "none", None, None, None,
                               "revenue", *gain_range(best["fit_revenue"] - at_base["fit_revenue"]),
                               None))  # fmt: skip
            cur.executemany(
                pgsql.SQL("INSERT INTO {} VALUES ({})").format(
                    t("price_advice"),
                    pgsql.SQL(", ").join([pgsql.Placeholder()] * len(advice_table.ADVICE_COLUMNS))),
                advice,
            )  # fmt: skip
            write_features(conn, schema, products.reset_index(), list(curves))
            row = {"model": f"mindsdb.{name}_forecast", "model_version": 3, "training_rows": 1000,
                   "products_modelled": 2, "held_out_from": "2025-03-12", "held_out_rows": 42,
                   "selection": SELECTION,
                   "folds": 3, **EVALUATION, "beats_baseline": True, "price_response_ok": True,
                   "pooled_elasticity": -1.25, "pooled_elasticity_low": -1.45,
                   "pooled_elasticity_high": -1.05, "elasticity_products": 2}  # fmt: skip
            cur.execute(
                pgsql.SQL("INSERT INTO {} ({}, trained_at) VALUES ({}, now() - interval '2 hours')")
                .format(t("model_evaluation"), pgsql.SQL(", ").join(map(pgsql.Identifier, row)),
                        pgsql.SQL(", ").join(pgsql.Placeholder() * len(row))),
                list(row.values()),
            )  # fmt: skip
    finally:
        conn.close()
    return curves


def gain_range(gain: float) -> tuple[float, float]:
    """A stored advice row's 90 % range of its gain per day: a known one around `gain`."""
    return 0.4 * float(gain), 1.6 * float(gain)


def run_test_import(url: PgUrl, path: Path, name: str, reader: str) -> dict:
    """A real import (profiteer_pipeline.sources.files.pipeline.run_import, the File source included)
    into the database of `url`; the import itself grants `reader` its tables, those written later
    (the model's) and the list of imports. Returns its summary."""
    from contextlib import contextmanager

    from profiteer_pipeline.sources.files import pipeline, tables

    @contextmanager
    def connect():
        conn = psycopg2.connect(url.dsn())
        try:
            yield conn
        finally:
            conn.close()

    access = tables.ImportAccess(readers=(reader,))
    return pipeline.run_import(path, name, connect, access=access).summary


@pytest.fixture(scope="session")
def import_db(settings, tmp_path_factory) -> PgUrl:
    """A warehouse with two real imports (no simulated shop): `test_shop` with the model's
    tables from a known curve, and `fresh_shop` (newest, its model not trained yet)."""
    from import_fixtures import SHOPIFY

    url = recreate_database(settings.warehouse, IMPORT_DB)
    grant_reader(url.dsn(), settings.reader_user, url.database)  # CONNECT, as on `up`
    folder = tmp_path_factory.mktemp("exports")
    orders = folder / "orders.csv"
    orders.write_text(order_export(), encoding="utf-8")
    run_test_import(url, orders, IMPORTED, settings.reader_user)
    write_model_tables(url, IMPORTED)
    shop = folder / "shopify.csv"
    shop.write_text(SHOPIFY, encoding="utf-8")
    run_test_import(url, shop, FRESH, settings.reader_user)
    return url


@pytest.fixture
def import_env(import_db, monkeypatch) -> PgUrl:
    """The app's environment on the imports' warehouse (MindsDB at a closed port: no import
    page needs it)."""
    point_app_at(monkeypatch, import_db, f"http://127.0.0.1:{closed_port()}")
    yield import_db
    st.cache_data.clear()


def _decode(value):
    """Plotly serializes numpy arrays as {"dtype", "bdata"} (base64): back to a list."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value


def plotly_specs(at) -> list[dict]:
    """Each chart's figure of an AppTest run, with its traces' x and y as plain lists."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    for spec in specs:
        for trace in spec["data"]:
            for axis in ("x", "y"):
                if axis in trace:
                    trace[axis] = _decode(trace[axis])
    return specs


@pytest.fixture
def download_files(monkeypatch):
    """The bytes behind a download button: AppTest keeps each run's media files in a
    MemoryMediaFileStorage it drops after the run, so record the storages it makes and look the
    button's URL (`/mock/media/<file id>.<ext>`) up in the latest."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    made: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)

    def served(button):
        assert made, "no AppTest run since the fixture started"
        return made[-1].get_file(button.proto.url.rsplit("/", 1)[-1])

    return served
