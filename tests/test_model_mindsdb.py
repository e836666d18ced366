"""The `sales_forecast` asset against a real MindsDB 25.14.1 server: create, retrain, predict,
describe, the datasource, and MindsDB's errors surfacing as they are.

The data: 48 hours of the default catalog (720 rows) from the generator, in a database of its own
(`model_test`) on the session's PostgreSQL, so other modules' `sales` rows do not mix in. One
materialization (two small trainings) is shared by the module; one more tests RETRAIN.
"""

import re
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
from psycopg2 import sql as pgsql
from reliability_fixtures import recreate_database

from profiteer_pipeline.defs.model.assets import HOLDOUT_SPEC, SPEC, sales_forecast
from profiteer_pipeline.defs.model.checks import price_response
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import engine, training
from profiteer_pipeline.model.client import (
    Datasource,
    MindsDBClient,
    MindsDBError,
    datasource_name,
)
from profiteer_pipeline.model.spec import ModelSpec
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.warehouse import metrics
from profiteer_pipeline.warehouse.io import copy_dataframe
from profiteer_pipeline.warehouse.products import products_frame, replace_products
from profiteer_pipeline.warehouse.schema import SALES_DDL, SALES_FEATURES_DDL

pytestmark = pytest.mark.mindsdb

DB = "model_test"
START = datetime(2026, 2, 2, tzinfo=UTC)
HOURS = 48


@pytest.fixture(scope="module")
def model_db(settings):
    """A warehouse database with 48 generated hours in `sales`, the `sales_features` view,
    `products` and the metric tables."""
    admin = psycopg2.connect(settings.warehouse.with_database("postgres").dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(DB))
        )
        cur.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(DB)))
    admin.close()
    url = settings.warehouse.with_database(DB)
    conn = psycopg2.connect(url.dsn())
    rows = generate_window(
        load_default_catalog(), START, START + timedelta(hours=HOURS), seed=CatalogResource().seed
    )
    with conn, conn.cursor() as cur:
        cur.execute(SALES_DDL)
        cur.execute(SALES_FEATURES_DDL)
    with conn:
        copy_dataframe(conn, "sales", rows)
    # what the price_response check reads, as the app does: the dimension and the metrics
    replace_products(conn, products_frame(load_default_catalog()))
    metrics.ensure_metric_tables(conn)
    metrics.refresh_metrics(conn)
    conn.close()
    from profiteer_pipeline.stack.roles import grant_model

    grant_model(url.dsn(), settings.model_user, DB)  # MindsDB's login reads the view, as on `up`
    return url


@pytest.fixture(scope="module")
def client(mindsdb_url) -> MindsDBClient:
    return MindsDBClient(mindsdb_url)


@pytest.fixture(scope="module")
def resources(model_db, mindsdb_url):
    return {
        "mindsdb": MindsDBResource(url=mindsdb_url, warehouse_database=DB),
        "warehouse": PostgresResource(database=DB),
        "catalog": CatalogResource(),
    }


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture(scope="module")
def first_run(client, resources, instance):
    """A clean slate, then one materialization of the asset and its price-response check."""
    for spec in (SPEC, HOLDOUT_SPEC):
        client.query(f"DROP MODEL IF EXISTS {spec.qualified_name}")
    client.drop_datasources(SPEC.datasource)
    result = dg.materialize(
        [sales_forecast, price_response], resources=resources, instance=instance
    )
    assert result.success
    return result


def _metadata(result) -> dict:
    (mat,) = result.asset_materializations_for_node(SPEC.name)
    return {k: v.value for k, v in mat.metadata.items()}


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_first_materialization_creates_evaluates_and_records(first_run, client):
    md = _metadata(first_run)
    assert md["training_action"] == "created" and md["model_version"] == 1
    assert md["training_rows"] == HOURS * 15 and md["training_hours"] == HOURS
    assert md["held_out_rows"] == 24 * 15
    assert md["held_out_from"].startswith("2026-02-03 00:00")
    assert 0 < md["held_out_mae"] < 0.25 * md["held_out_mean_purchases"]
    assert 0.8 <= md["held_out_r2"] <= 1.0
    assert md["engine"] == engine.NAME  # the count model every source trains
    # the simulated shop's products sell in most hours: its demand supports product-hour
    assert md["grain"] == md["grain_supported"] == "product-hour"
    assert 0.5 <= md["sale_hour_share"] <= md["sale_day_share"] == 1.0
    assert md["density"].startswith("the shop's 15 products sell in ")
    assert "data:image/png;base64," in md["predicted_vs_actual"]
    assert re.fullmatch(rf"{SPEC.datasource}_[0-9a-f]{{10}} \(created\)", md["datasource"])
    # the twin was trained without the held-out day, the model itself on every hour
    (twin,) = [v for v in client.versions(HOLDOUT_SPEC.name) if v.active]
    assert "\"timestamp\" < '2026-02-03T00:00:00+00:00'" in twin.select_query
    (model,) = [v for v in client.versions(SPEC.name) if v.active]
    assert "WHERE" not in model.select_query and model.status == "complete"


def test_checks_pass_held_out_beats_the_baseline_and_price_response(first_run):
    checks = _checks(first_run)
    assert checks["held_out_accuracy"].passed, checks["held_out_accuracy"].description
    verdict = checks["beats_baseline"]  # the rule every source's model answers to
    assert verdict.passed, verdict.description
    # the backtest an import's model runs, in one fold of the latest 24 hours at product-hour
    assert verdict.description.startswith("RMSSE ") and " same-hour mean (" in verdict.description
    assert verdict.description.endswith("1 fold of 24 hours, 360 product-hours")
    md = {k: v.value for k, v in verdict.metadata.items()}
    assert 0 < md["model_rmsse"] < md["trailing_mean_rmsse"] and md["rows"] > 0
    pr = checks["price_response"]
    assert pr.passed, pr.metadata["violations"].value
    assert pr.metadata["curves"].value == 15 * 4  # every product x bucket
    assert pr.metadata["predictions"].value == 15 * 4 * 21


def test_predictions_fall_with_price(first_run, client, resources):
    row = {"views": 9000, "cart_adds": 600, "popularity_factor": 1.8, "rating": 4.5,
           "time_of_day_bucket": "Afternoon", "category": "Laptops", "hour_of_day": 15}  # fmt: skip
    cheap = client.query(SPEC.predict_one({**row, "price_ratio": 0.9}))["purchases"].iloc[0]
    dear = client.query(SPEC.predict_one({**row, "price_ratio": 1.1}))["purchases"].iloc[0]
    assert cheap > dear > 0
    # the same through the resource's session, 21 prices in one call (as the check predicts)
    inputs = pd.DataFrame([{**row, "price_ratio": 0.85 + 0.015 * i} for i in range(21)])
    with resources["mindsdb"].session() as session:
        predicted = training.predict_frame(session, SPEC, inputs)
    assert len(predicted) == 21 and predicted.notna().all()
    assert predicted.iloc[0] > predicted.iloc[-1]


def test_the_shop_trains_the_count_model_every_source_trains(first_run, client):
    """The same engine as an import's model, with the shop's own inputs, demand never rising
    with the price ratio."""
    names = ", ".join(f"'{s.name}'" for s in (SPEC, HOLDOUT_SPEC))
    query = "SELECT * FROM information_schema.models WHERE name IN "
    found = client.query(query + f"({names}) AND active = true")
    found.columns = [str(c).lower() for c in found.columns]
    assert sorted(found["name"]) == sorted([SPEC.name, HOLDOUT_SPEC.name])
    assert set(found["engine"]) == {"byom"}  # MindsDB's handler for our own engine (not lightwood)
    assert engine.NAME.startswith("profiteer_count_") and engine.NAME in client._engines()
    assert all("price_ratio" in str(options) for options in found["training_options"])


def test_rematerialization_retrains_a_new_version(first_run, client, resources, instance):
    before = {v.version for v in client.versions(SPEC.name)}
    result = dg.materialize([sales_forecast], resources=resources, instance=instance)
    assert result.success
    md = _metadata(result)
    assert md["training_action"] == "retrained"
    assert md["model_version"] == max(before) + 1
    first = _metadata(first_run)["datasource"].split()[0]
    assert md["datasource"] == f"{first} (unchanged)"
    active = [v for v in client.versions(SPEC.name) if v.active]
    assert [v.version for v in active] == [md["model_version"]]


def _databases(client: MindsDBClient) -> set[str]:
    return set(client.query("SELECT NAME FROM information_schema.databases")["NAME"])


def test_datasource_is_recreated_when_parameters_change(model_db, client, settings):
    params = {"host": model_db.host, "port": model_db.port, "database": DB,
              "user": settings.reader_user, "password": settings.reader_password}  # fmt: skip
    client.drop_datasources("model_test_ds")
    try:
        created = client.ensure_datasource("model_test_ds", "postgres", params)
        assert created.state == "created"
        assert created.name == datasource_name("model_test_ds", "postgres", params)
        assert re.fullmatch(r"model_test_ds_[0-9a-f]{10}", created.name)
        assert client.ensure_datasource("model_test_ds", "postgres", params) == Datasource(
            created.name, "unchanged"
        )
        admin = {**params, "user": model_db.user, "password": model_db.password}
        moved = client.ensure_datasource("model_test_ds", "postgres", admin)
        assert moved.state == "recreated" and moved.name != created.name
        # the old generation is gone, the new one connects as the new user
        assert created.name not in _databases(client) and moved.name in _databases(client)
        shown = client.query(
            f"SELECT CONNECTION_DATA FROM information_schema.databases WHERE NAME = '{moved.name}'"  # noqa: S608 (a name we just validated)
        )["CONNECTION_DATA"].iloc[0]
        assert f'"user": "{model_db.user}"' in shown and model_db.password not in shown
        # the password is not readable from the name: only a changed password changes it
        assert moved.name != datasource_name(
            "model_test_ds", "postgres", {**admin, "password": "x"}
        )
    finally:
        client.drop_datasources("model_test_ds")


MOVED = ModelSpec(
    name="model_test_moved", datasource="model_test_moved", table="points", target="y",
    features=("x",), ts_column="x", key_columns=("x",),
)  # fmt: skip


def _points_database(settings, name: str, level: float) -> dict[str, object]:
    """A database whose `points` table holds y = level + x % 5 for x in 0..199."""
    recreate_database(settings.warehouse, name)
    url = settings.warehouse.with_database(name)
    with psycopg2.connect(url.dsn()) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE points (x integer, y double precision)")
        cur.execute(
            "INSERT INTO points SELECT x, %s + x %% 5 FROM generate_series(0, 199) x", (level,)
        )
    conn.close()
    return {"host": url.host, "port": url.port, "database": name,
            "user": url.user, "password": url.password}  # fmt: skip


def test_a_moved_warehouse_trains_from_its_new_rows(settings, client):
    """The product bug behind a red CI: re-pointing a datasource under the same name left
    MindsDB's warm ML worker reading the old database (its handler cache is keyed by name).
    Train from one database, move the datasource to another with different rows and train again
    at once, while the worker is warm: the new version must have learnt the new rows."""
    old = _points_database(settings, "model_test_moved_a", 10.0)
    new = _points_database(settings, "model_test_moved_b", 1000.0)
    client.query(f"DROP MODEL IF EXISTS {MOVED.qualified_name}")
    client.drop_datasources(MOVED.datasource)
    quiet = {"timeout": 300, "log": lambda _m: None}
    try:
        first = client.ensure_datasource(MOVED.datasource, "postgres", old)
        training.train(client, MOVED.reading(first.name), **quiet)
        x = pd.DataFrame({"x": [3]})
        assert training.predict_frame(client, MOVED, x).iloc[0] == pytest.approx(13, abs=3)

        moved = client.ensure_datasource(MOVED.datasource, "postgres", new)
        assert moved.state == "recreated" and first.name not in _databases(client)
        retrained = training.train(client, MOVED.reading(moved.name), **quiet)
        assert retrained.action == "retrained" and retrained.version.version == 2
        assert training.predict_frame(client, MOVED, x).iloc[0] == pytest.approx(1003, abs=30)
    finally:
        client.query(f"DROP MODEL IF EXISTS {MOVED.qualified_name}")
        client.drop_datasources(MOVED.datasource)


def test_awkward_password_reaches_postgres_unchanged(model_db, client):
    """Quotes, backslashes, braces, non-ASCII: the literal MindsDB parses is the password."""
    password = "a'b\"c\\d e{f}%ü''g"
    conn = psycopg2.connect(model_db.with_database("postgres").dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS model_test_quote")
        cur.execute("CREATE ROLE model_test_quote LOGIN PASSWORD %s", (password,))
        cur.execute("GRANT pg_read_all_data TO model_test_quote")
    params = {"host": model_db.host, "port": model_db.port, "database": DB,
              "user": "model_test_quote", "password": password}  # fmt: skip
    try:
        quoted = client.ensure_datasource("model_test_quote", "postgres", params)
        assert quoted.state == "created"
        n = client.query(f"SELECT count(*) AS n FROM {quoted.name} (SELECT * FROM sales)")  # noqa: S608
        assert int(n["n"].iloc[0]) == HOURS * 15
        # a wrong password: PostgreSQL's refusal comes through, the password does not
        with pytest.raises(MindsDBError, match="password authentication failed") as err:
            client.ensure_datasource(
                "model_test_wrong", "postgres", {**params, "password": "nope-123"}
            )
        assert "nope-123" not in str(err.value)
    finally:
        client.drop_datasources("model_test_quote")
        client.drop_datasources("model_test_wrong")
        with conn.cursor() as cur:
            cur.execute("DROP ROLE IF EXISTS model_test_quote")
        conn.close()


def test_failed_training_fails_with_mindsdb_error_text(first_run, client):
    datasource = _metadata(first_run)["datasource"].split()[0]  # the asset's generation
    broken = ModelSpec(
        name="model_test_broken", datasource=datasource, features=("views", "no_such_column")
    )
    client.query(f"DROP MODEL IF EXISTS {broken.qualified_name}")
    try:
        with pytest.raises(MindsDBError, match='column "no_such_column" does not exist'):
            training.train(client, broken, timeout=120, log=lambda _m: None)
    finally:
        client.query(f"DROP MODEL IF EXISTS {broken.qualified_name}")


def test_an_engine_is_named_after_its_code_and_one_mindsdb_cannot_load_is_refused(client):
    """`ensure_engine` (the import's BYOM count model): the same code is one engine, reused;
    code MindsDB cannot load (no class with train and predict) fails with MindsDB's reason."""
    from pathlib import Path

    from profiteer_pipeline.model import count_model

    code = Path(count_model.__file__).read_bytes()
    first = client.ensure_engine("profiteer_count", code)
    assert re.fullmatch(r"profiteer_count_[0-9a-f]{10}", first)
    assert client.ensure_engine("profiteer_count", code) == first
    for _ in range(2):  # nothing half-made is left that a second attempt would take for done
        with pytest.raises(MindsDBError, match="MindsDB refused the profiteer_broken engine"):
            client.ensure_engine("profiteer_broken", b"answer = 42\n")
