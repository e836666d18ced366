"""The `price_recommendations` asset against a real MindsDB: after a real training, its stored
curves and best prices equal a direct batch prediction of the same model, and automation
requests it after every training (and not after an hourly update).

The data: 72 generated hours of the default catalog in a database of its own, so the training
has a held-out day (its error becomes the band).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import psycopg2
import pytest
from automation_fixtures import requested
from metrics_fixtures import private_database

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.definitions import defs
from profiteer_pipeline.defs.model.assets import SPEC, sales_forecast
from profiteer_pipeline.defs.model.recommendations import price_recommendations
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import features as feat
from profiteer_pipeline.model import recommendations as rc
from profiteer_pipeline.model import training
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.figures import METRIC_FIELDS
from profiteer_pipeline.model.profile import read_profiles
from profiteer_pipeline.pricing import advice as pa
from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.pricing.guardrails import Guardrails
from profiteer_pipeline.stack.roles import grant_model
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.warehouse import metrics
from profiteer_pipeline.warehouse.io import copy_dataframe
from profiteer_pipeline.warehouse.products import products_frame, replace_products
from profiteer_pipeline.warehouse.schema import SALES_FEATURES_DDL

pytestmark = pytest.mark.mindsdb

DB = "recommendations_test"
START = datetime(2026, 4, 6, tzinfo=UTC)
HOURS = 72
SAMPLE = ["P001", "P007", "P013"]


@pytest.fixture(scope="module")
def db(settings) -> str:
    dsn = private_database(settings, DB)
    conn = psycopg2.connect(dsn)
    catalog = load_default_catalog()
    with conn, conn.cursor() as cur:
        cur.execute(SALES_FEATURES_DDL)
    with conn:
        copy_dataframe(
            conn, "sales", generate_window(catalog, START, START + timedelta(hours=HOURS))
        )
    replace_products(conn, products_frame(catalog))
    metrics.ensure_metric_tables(conn)
    metrics.refresh_metrics(conn)
    conn.close()
    grant_model(dsn, settings.model_user, DB)
    return dsn


#: The shop's guardrails for this module's runs (its state folder's file, taken back after).
RAILS = Guardrails(max_step_pct=12, price_ending="0.99")


@pytest.fixture(scope="module")
def run(db, mindsdb_url):
    path = settings_mod.state_dir() / guardrails.FILE_NAME
    assert not path.exists()  # nobody else's: this module's runs read the one it writes
    path.write_text('max_step_pct = 12\nprice_ending = "0.99"\n')
    try:
        yield from _trained_and_priced(mindsdb_url)
    finally:
        path.unlink()


def _trained_and_priced(mindsdb_url):
    client = MindsDBClient(mindsdb_url)
    client.query(f"DROP MODEL IF EXISTS {SPEC.qualified_name}")
    resources = {
        "mindsdb": MindsDBResource(url=mindsdb_url, warehouse_database=DB),
        "warehouse": PostgresResource(database=DB),
    }
    with dg.instance_for_test() as instance:
        trained = dg.materialize([sales_forecast], resources=resources, instance=instance)
        assert trained.success
        result = dg.materialize(
            [price_recommendations],
            resources=resources,
            instance=instance,
        )
        assert result.success
        yield trained, result


def read(dsn: str, query: str, params=None) -> pd.DataFrame:
    conn = psycopg2.connect(dsn)
    try:
        return pd.read_sql_query(query, conn, params=params)
    finally:
        conn.close()


def test_curves_and_best_prices_equal_a_direct_batch_prediction(run, db, mindsdb_url):
    curves = read(db, "SELECT * FROM analytics.price_curves WHERE product_id = ANY(%(ids)s)"
                  " ORDER BY product_id, time_of_day_bucket, price", {"ids": SAMPLE})  # fmt: skip
    recs = read(db, "SELECT * FROM analytics.price_recommendations").set_index(
        ["product_id", "time_of_day_bucket"]
    )
    assert len(recs) == 15 * 4
    conn = psycopg2.connect(db)
    profiles, _ = read_profiles(conn)
    conn.close()
    profiles = profiles.set_index(["product_id", "time_of_day_bucket"])
    client = MindsDBClient(mindsdb_url)
    # one direct batch for the whole sample: the same what-if inputs, the same model
    frames = []
    for (pid, bucket), c in curves.groupby(["product_id", "time_of_day_bucket"]):
        profile = {"product_id": pid, **profiles.loc[(pid, bucket)].to_dict(),
                   "time_of_day_bucket": bucket}  # fmt: skip
        frames.append(feat.model_inputs(profile, c["price"].to_numpy(), SPEC.features))
    direct = training.predict_frame(client, SPEC, pd.concat(frames, ignore_index=True))
    assert curves["model_purchases"].to_numpy() == pytest.approx(direct.clip(lower=0).to_numpy())
    # the one smoothing rule, applied independently to the stored predictions: each product and
    # time of day's demand line where its curve falls, the model's own points where it does not
    keyed = curves.rename(columns={"time_of_day_bucket": "bucket"})
    falling = rc.bucket_falls(keyed)
    assert falling.sum() >= 0.9 * len(falling)  # the shop's demand falls with the price
    for (pid, bucket), c in rc.smoothed_by_bucket(keyed).groupby(["product_id", "bucket"]):
        rec = recs.loc[(pid, bucket)]
        assert len(c) >= 41 and c["is_base"].sum() == 1 and c["is_current"].sum() == 1
        assert c["price"].min() == rec["min_price"] and c["price"].max() == rec["max_price"]
        assert c["purchases"].to_numpy() == pytest.approx(c["fit_units"].to_numpy())
        if falling[(pid, bucket)]:  # a straight falling line (clipped at zero)
            assert np.all(np.diff(c["purchases"].to_numpy()) <= 1e-9)
            on = c[c["purchases"] > 0]
            slope, intercept = np.polyfit(on["price"], on["purchases"], 1)
            assert slope < 0 and on["purchases"].to_numpy() == pytest.approx(
                (intercept + slope * on["price"]).to_numpy(), abs=1e-6
            )
        expected = pa.advise(
            c["price"].to_numpy(), c["fit_units"].to_numpy(), min_price=rec["min_price"],
            max_price=rec["max_price"], current_price=rec["current_price"], rel_error=None,
            falls=bool(falling[(pid, bucket)]), rails=RAILS,
        )  # fmt: skip
        assert rec["best_price"] == pytest.approx(expected.best_price)
        assert rec["guardrail"] == expected.guardrail
        if expected.changed:  # within the step from today's price, at the file's ending
            assert abs(rec["best_price"] / rec["current_price"] - 1) <= 0.12 + 1e-9
            assert round(rec["best_price"] * 100) % 100 == 99
        assert rec["min_price"] <= rec["best_price"] <= rec["max_price"]
        assert rec["gain_per_hour"] == pytest.approx(expected.gain)


def test_band_comes_from_the_held_out_error(run):
    trained, result = run
    (model,) = trained.asset_materializations_for_node(SPEC.name)
    rmse = model.metadata["held_out_rmse"].value
    mean = model.metadata["held_out_mean_purchases"].value
    (mat,) = result.asset_materializations_for_node("price_recommendations")
    md = {k: v.value for k, v in mat.metadata.items()}
    assert md["held_out_relative_error"] == pytest.approx(rmse / mean)
    # scored as every source is: against the same hour the day before and the same hour's
    # 7-day mean, on the held-out day, with RMSSE and Poisson deviance; the model wins there
    figures = {k: v.value for k, v in model.metadata.items() if k in METRIC_FIELDS}
    assert set(figures) == set(METRIC_FIELDS)
    for metric in ("rmsse", "poisson_deviance"):
        assert figures[f"model_{metric}"] < figures[f"trailing_mean_{metric}"]
        assert figures[f"model_{metric}"] < figures[f"seasonal_naive_{metric}"]
    assert model.metadata["held_out_rows"].value == 15 * 24
    assert model.metadata["backtest_folds"].value == 1
    checks = {e.check_name: e for e in trained.get_asset_check_evaluations()}
    assert set(checks) == {"held_out_accuracy", "beats_baseline"}
    verdict = checks["beats_baseline"]  # the rule every source's model answers to
    assert verdict.passed and verdict.description.endswith("1 fold of 24 hours, 360 product-hours")
    assert md["curves"] == 60 and md["mindsdb_calls"] == 1
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "recommendations_sound" and check.passed, check.description
    assert "data:image/png;base64," in md.get("top_changes_chart", "data:image/png;base64,")
    assert "| product_id |" in md["top_changes"]


def test_tables_hold_band_confidence_observations_and_forecast(run, db):
    recs = read(db, "SELECT * FROM analytics.price_recommendations")
    assert recs["band_per_hour"].notna().all()
    assert set(recs["confidence"]) <= {"high", "medium", "no change"}
    quiet = recs[recs["confidence"] == "no change"]
    assert (quiet["recommended_price"] == quiet["current_price"]).all()
    loud = recs[recs["confidence"] != "no change"]
    assert (loud["gain_per_hour"] > loud["band_per_hour"]).all()
    assert (recs["gain_per_day"] == recs["gain_per_hour"] * recs["hours_per_day"]).all()
    obs = read(db, "SELECT sum(hours) AS hours FROM analytics.price_observations")
    assert int(obs["hours"].iloc[0]) == HOURS * 15  # every observed hour, binned by price
    forecast = read(db, "SELECT * FROM analytics.sales_forecast_hourly ORDER BY hour")
    assert len(forecast) == 24
    assert forecast["hour"].iloc[0] == pd.Timestamp(START + timedelta(hours=HOURS))
    runs = read(db, "SELECT * FROM analytics.price_recommendation_runs")
    assert len(runs) == 1 and runs["predictions"].iloc[0] >= 60 * 41


def test_the_real_model_prices_the_shop_per_product_by_every_source_s_rules(run, db):
    """The count model's curves, summed over the day, through the advice every source gets: one
    row per product, the advised moves backed by the product's own elasticity interval and
    named guardrails, and the asset's metadata counting them."""
    _, result = run
    advice = read(db, "SELECT * FROM shop_model.price_advice ORDER BY product_id")
    assert len(advice) == 15 and advice["note"].str.len().gt(0).all()
    assert set(advice["status"]) <= {"advice", "no_change"}
    assert (advice["elasticity_high"] < 0).all()  # the shop's demand does fall with the price
    advised = advice[advice["status"] == "advice"]
    assert advised["guardrail"].notna().all() and (advised["elasticity_source"] == "own").all()
    # within the shop's guardrails file (the step of 12 %, the .99 ending) and its catalog
    step = advised["best_price"].astype(float) / advised["current_price"].astype(float) - 1
    assert (step.abs() <= RAILS.max_step_pct / 100 + 1e-4).all()
    assert ((advised["best_price"] * 100).round() % 100 == 99).all()
    bounds = read(db, "SELECT product_id, min_price, max_price FROM public.products")
    held = advised.merge(bounds, on="product_id")
    assert held["best_price"].between(held["min_price"], held["max_price"]).all()
    # each move's 90 % range of its gain, around the curve's own (the shop knows its unit costs)
    on_curve = np.where(
        advised["objective"] == "profit",
        advised["profit_per_day_at_best"] - advised["profit_per_day_at_current"],
        advised["revenue_per_day_at_best"] - advised["revenue_per_day_at_current"],
    )
    assert (advised["gain_per_day_low"] <= on_curve + 1e-9).all()
    assert (on_curve <= advised["gain_per_day_high"] + 1e-9).all()
    kept = advice[advice["status"] != "advice"]
    assert kept[["gain_per_day_low", "gain_per_day_high"]].isna().all().all()
    meta = result.asset_materializations_for_node("price_recommendations")[0].metadata
    assert meta["products_advised"].value == len(advised)
    assert sum(meta["products_by_status"].value.values()) == 15
    assert meta["pooled_elasticity"].value < -1
    # the evaluation every source stores, from the training's held-out day
    (ev,) = read(db, "SELECT * FROM shop_model.model_evaluation").to_dict("records")
    assert ev["model_version"] == meta["model_version"].value and ev["folds"] == 1
    assert ev["held_out_rows"] > 0 and ev["training_rows"] == HOURS * 15
    assert 0 < ev["model_rmsse"] < ev["trailing_mean_rmsse"]
    assert ev["beats_baseline"] or (advice["status"] != "advice").all()
    assert ev["pooled_elasticity"] == pytest.approx(meta["pooled_elasticity"].value, abs=1e-3)
    # how densely the shop's products sell, as its training measured it: most hours
    assert ev["selection"].startswith("every product-hour of the shop's sales")
    assert ": dense enough for an hourly model (at least 50 %)" in ev["selection"]


def test_automation_requests_it_after_every_training_only():
    instance = dg.DagsterInstance.ephemeral()
    cursor = None

    def tick() -> list[str]:
        nonlocal cursor
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = result.cursor
        return [k for k in requested(result) if k == "price_recommendations"]

    def report(key: str) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(key))

    tick()
    assert tick() == []  # no model yet: nothing to recommend from
    report("products")
    report("analytics/avg_purchases_by_bucket")
    assert tick() == []  # hourly inputs do not trigger it
    report("sales_forecast")  # the first training
    assert tick() == ["price_recommendations"]
    report("price_recommendations")
    assert tick() == []
    report("analytics/avg_purchases_by_bucket")  # the next hour
    assert tick() == []
    report("sales_forecast")  # a retraining
    assert tick() == ["price_recommendations"]
