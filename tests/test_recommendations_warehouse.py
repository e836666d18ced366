"""The recommendations' computation and tables on the real PostgreSQL, with the simulated shop's
own demand curve standing in for the model (no MindsDB): batching, the tables the app reads,
the per-product advice in the contract every source writes, a unit cost in `products` turning
the objective into profit, and rebuilds replacing the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg2
import pytest

from profiteer_app.sample_data import prepare_warehouse, recreate_database
from profiteer_pipeline.model import recommendations as recs
from profiteer_pipeline.model.spec import DEFAULT_SPEC
from profiteer_pipeline.pricing import advice as pa
from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.warehouse import recommendation_tables as pt
from profiteer_pipeline.warehouse.source_tables import EVALUATION_COLUMNS

DB = "recommendations_warehouse_test"
START = datetime(2026, 5, 4, tzinfo=UTC)
ERROR = {"r2": 0.98, "mae": 3.0, "rmse": 4.0, "mean_purchases": 40.0, "relative_error": 0.1}


def demand(price_ratio):
    """The simulated shop's logistic price response (SEED-GENERATOR.md)."""
    return 1 / (1 + np.exp(20 * (price_ratio - 1)))


def shop_model(rows: pd.DataFrame) -> np.ndarray:
    """The simulated shop's expected purchases: cart adds × 0.175 × the logistic price response."""
    return rows["cart_adds"] * 0.175 * demand(rows["price_ratio"])


@pytest.fixture(scope="module")
def db(settings):
    url = recreate_database(settings.warehouse, DB)
    prepare_warehouse(url, START, 30)
    return url


def read(url, query: str) -> pd.DataFrame:
    conn = psycopg2.connect(url.dsn())
    try:
        return pd.read_sql_query(query, conn)
    finally:
        conn.close()


def refresh(url, calls: list[int], **kwargs):
    def predict(rows: pd.DataFrame) -> np.ndarray:
        calls.append(len(rows))
        return shop_model(rows)

    conn = psycopg2.connect(url.dsn())
    try:
        return recs.refresh(conn, predict, DEFAULT_SPEC.features, model="shop", model_version=7,
                            error=ERROR, **kwargs)  # fmt: skip
    finally:
        conn.close()


def test_one_call_for_the_catalog_and_the_tables_the_app_reads(db):
    calls: list[int] = []
    result, run, counts = refresh(db, calls)
    assert len(calls) == 1 and calls[0] == run["predictions"] >= 60 * 41
    assert counts["price_recommendations"] == 60 and counts["sales_forecast_hourly"] == 24
    recs_ = read(db, "SELECT * FROM analytics.price_recommendations")
    assert (recs_["objective"] == "revenue").all() and recs_["unit_cost"].isna().all()
    assert (recs_["best_price"] >= recs_["min_price"]).all()
    assert (recs_["best_price"] <= recs_["max_price"]).all()
    # the default guardrails: one step (±10 %) from today's price at most, named where it binds
    step = recs_["best_price"] / recs_["current_price"] - 1
    assert (step.abs() <= 0.10 + 1e-4).all()
    by = recs_.groupby("guardrail")
    assert set(by.groups) <= {"none", "tested range", guardrails.DEFAULT.step_label}
    assert (step[by.groups.get(guardrails.DEFAULT.step_label, [])].abs() > 0.0999).all()
    # the shop's optimum sits about 13 % below base: where no guardrail binds, the curve finds
    # it; where its own optimum lies below the bounds, the lowest price stands
    free = recs_.loc[by.groups.get("none", [])]
    assert (free["best_price"] / free["base_price"]).between(0.8, 0.95).all()
    lowest = recs_.loc[by.groups.get("tested range", [])]
    assert (lowest["best_price"] == lowest["min_price"]).all()
    assert len(free) + len(lowest) > 0
    assert (recs_["band_per_hour"] > 0).all()
    # the observed evidence covers every hour of `sales`, binned by price
    obs = read(db, "SELECT sum(hours)::int AS h FROM analytics.price_observations")
    assert obs["h"].iloc[0] == 30 * 15
    # a smaller batch limit splits by whole products
    calls.clear()
    _, run, _ = refresh(db, calls, max_rows=500)
    assert len(calls) == run["mindsdb_calls"] > 1 and sum(calls) == run["predictions"]
    runs = read(db, "SELECT * FROM analytics.price_recommendation_runs ORDER BY computed_at")
    assert len(runs) == 2 and (runs["relative_error"] == 0.1).all()  # a log: appended
    assert len(read(db, "SELECT 1 FROM analytics.price_recommendations")) == 60  # replaced


def test_the_shop_writes_the_advice_contract_every_source_writes(db):
    """Per product, the columns and rules of an import's `price_advice`: a price only where the
    product's own elasticity interval backs the move, within the guardrails, named; and each move
    raises the shop's true revenue (its own demand formula)."""
    from profiteer_pipeline.pricing.advice_table import ADVICE_COLUMNS

    result, _, counts = refresh(db, [])
    stored = read(db, "SELECT * FROM shop_model.price_advice ORDER BY product_id")
    assert list(stored.columns) == list(ADVICE_COLUMNS)
    assert (
        len(stored) == counts["shop_model.price_advice"] == 15
    )  # one row per product, not per bucket
    assert set(stored["status"]) <= {"advice", "no_change"} and stored["note"].str.len().gt(0).all()
    advised = stored[stored["status"] == "advice"].astype({"best_price": float,
                                                           "current_price": float})  # fmt: skip
    assert len(advised) >= 10
    assert (advised["elasticity_source"] == "own").all()
    # a cut needs demand more elastic than -1 (revenue) over the whole interval
    cut = advised["best_price"] < advised["current_price"]
    assert (advised.loc[cut, "elasticity_high"] < -1).all()
    assert advised["guardrail"].notna().all()
    step = (advised["best_price"] / advised["current_price"] - 1).abs()
    assert (step <= 0.10 + 1e-4).all()
    assert (advised["units_per_day_at_current"] > 0).all()
    base = advised["base_price"].astype(float)
    before = advised["current_price"] * demand(advised["current_price"] / base)
    after = advised["best_price"] * demand(advised["best_price"] / base)
    assert (after > before).all(), advised[["product_id", "current_price", "best_price"]]
    # the shop's pooled elasticity: the logistic's slope over the prices it draws
    assert -12 < result.pooled.low < result.pooled.elasticity < result.pooled.high < -3
    # the table by time of day moves only products whose own interval lies below zero, and says
    # why every other row keeps its price
    by_time = read(db, "SELECT product_id, confidence, note FROM analytics.price_recommendations")
    own = stored["elasticity_source"].eq("own") & (stored["elasticity_high"].astype(float) < 0)
    moved = by_time["confidence"] != "no change"
    assert set(by_time.loc[moved, "product_id"]) <= set(stored.loc[own, "product_id"])
    assert (
        by_time.loc[~moved, "note"].str.len().gt(0).all()
        and by_time.loc[moved, "note"].isna().all()
    )


def test_the_table_by_time_of_day_answers_to_the_product_s_own_elasticity():
    """The evidence rule every source's advice answers to, per time of day: a move stands only
    where the product's own 90 % interval lies below zero and backs its direction (revenue: a
    cut needs demand more elastic than -1 over the whole interval, a rise less elastic); the
    others keep today's price, and the note says why. Pure: hand-made rows."""
    rows = pd.DataFrame({
        "product_id": ["A", "B", "C", "D", "E", "A"],
        "best_price": [90.0, 90.0, 90.0, 90.0, 110.0, 100.0],
        "current_price": 100.0, "unit_cost": np.nan, "objective": "revenue",
        "recommended_price": [90.0, 90.0, 90.0, 90.0, 110.0, 100.0],
        "confidence": ["high", "high", "medium", "high", "high", "no change"],
        "note": [None] * 5 + ["Today's price already is the best one within the guardrails."],
    })  # fmt: skip
    products = pd.DataFrame({
        "product_id": ["A", "B", "C", "D", "E"],
        "elasticity": [-2.5, -0.5, -0.6, -2.0, -0.4],
        "elasticity_low": [-3.0, -1.5, -0.8, -2.5, -0.7],
        "elasticity_high": [-2.0, 0.5, -0.3, -1.5, -0.1],
        "source": ["own", "own", "own", "pooled", "own"],
    })  # fmt: skip
    recs.withhold_unsupported(rows, products)
    assert rows["confidence"].tolist() == ["high"] + ["no change"] * 3 + ["high", "no change"]
    assert rows["recommended_price"].tolist() == [90.0, 100.0, 100.0, 100.0, 110.0, 100.0]
    notes = rows["note"].tolist()
    assert notes[0] is None and notes[4] is None  # A's cut and E's rise are backed
    assert notes[1].startswith("No evidence that price moves demand: elasticity -0.50")
    assert notes[2].startswith(  # C's interval lies wholly above -1: a cut earns less
        "The model's curve and this product's elasticity disagree: the curve earns most revenue "
        "at a lower price, but the elasticity, -0.60 (90 % interval -0.80 to -0.30), lies wholly "
        "above the break-even -1.00"
    )
    assert notes[3].startswith("No evidence of this product's own price response")
    assert notes[5].startswith("Today's price already is the best one")  # kept


def test_a_model_that_loses_to_a_baseline_advises_no_price_and_says_why(db):
    """The rule every source's model answers to: out of sample below the trailing mean on both
    RMSSE and Poisson deviance, or no price moves; the curves stay, the advice says why, and the
    evaluation (the one table of the model's figures) holds them."""
    from profiteer_pipeline.model.figures import HOURLY
    from profiteer_pipeline.pricing.advice_table import no_advice_reason

    figures = {"model_rmsse": 0.9, "seasonal_naive_rmsse": 1.0, "trailing_mean_rmsse": 0.8,
               "model_poisson_deviance": 3.0, "seasonal_naive_poisson_deviance": 9.0,
               "trailing_mean_poisson_deviance": 4.0}  # fmt: skip
    reason = no_advice_reason(figures, HOURLY)
    assert reason.startswith("The model does not beat the same-hour 7-day mean out of sample")
    assert no_advice_reason({**figures, "model_rmsse": 0.7}, HOURLY) is None
    error = {**ERROR, **figures, "no_advice": reason, "held_out_rows": 360,
             "held_out_from": "2026-06-02 00:00:00+00:00"}  # fmt: skip
    conn = psycopg2.connect(db.dsn())
    try:
        result, run, _ = recs.refresh(conn, shop_model, DEFAULT_SPEC.features, model="shop",
                                      model_version=8, error=error)  # fmt: skip
    finally:
        conn.close()
    stored = read(db, "SELECT * FROM analytics.price_recommendations")
    assert len(stored) == 60 and (stored["confidence"] == "no change").all()
    assert (stored["note"] == reason).all()
    assert (stored["recommended_price"] == stored["current_price"]).all()
    assert (stored["best_price"] != stored["current_price"]).any()  # the curves still say where
    (last,) = read(db, "SELECT * FROM analytics.price_recommendation_runs WHERE model_version = 8"
                   ).to_dict("records")  # fmt: skip
    assert last["relative_error"] == 0.1 and "held_out_trailing_mean_rmsse" not in last
    per_product = read(db, "SELECT status, note, best_price FROM shop_model.price_advice")
    assert (per_product["status"] == "no_change").all() and (per_product["note"] == reason).all()
    assert per_product["best_price"].isna().all()
    # the evaluation every source stores: one fold (the latest 24 hours), the figures, the verdict
    evaluation = read(db, "SELECT * FROM shop_model.model_evaluation")
    assert list(evaluation.columns) == list(EVALUATION_COLUMNS)
    (row,) = evaluation.to_dict("records")
    assert (row["model_version"], row["folds"], row["beats_baseline"]) == (8, 1, False)
    assert row["trailing_mean_rmsse"] == 0.8 and row["model_poisson_deviance"] == 3.0
    assert row["held_out_rows"] == 360 and row["held_out_from"] == pd.Timestamp(
        "2026-06-02", tz=UTC
    )
    assert row["products_modelled"] == 15 and row["price_response_ok"]
    assert row["pooled_elasticity_low"] < row["pooled_elasticity"] < row["pooled_elasticity_high"]
    # without held-out figures the model was not evaluated (no fold), and its row says so
    refresh(db, [])
    (row,) = read(db, "SELECT * FROM shop_model.model_evaluation").to_dict("records")
    assert (row["model_version"], row["folds"], row["beats_baseline"]) == (7, 0, False)
    assert pd.isna(row["model_rmsse"]) and pd.isna(row["held_out_from"])
    assert (read(db, "SELECT confidence FROM analytics.price_recommendations")["confidence"]
            != "no change").any()  # fmt: skip


def test_a_unit_cost_makes_it_maximize_profit(db):
    conn = psycopg2.connect(db.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE public.products ADD COLUMN IF NOT EXISTS unit_cost float8")
        cur.execute(
            "UPDATE public.products SET unit_cost = base_price * 0.6 WHERE product_id = 'P001'"
        )
    conn.close()
    try:
        refresh(db, [])
        r = read(db, "SELECT * FROM analytics.price_recommendations WHERE product_id = 'P001'"
                     " AND time_of_day_bucket = 'Afternoon'").iloc[0]  # fmt: skip
        assert r["objective"] == "profit" and r["unit_cost"] == pytest.approx(r["base_price"] * 0.6)
        curve = read(db, "SELECT price, purchases, profit, revenue FROM analytics.price_curves"
                         " WHERE product_id = 'P001' AND time_of_day_bucket = 'Afternoon'"
                         " ORDER BY price")  # fmt: skip
        assert curve["profit"].to_numpy() == pytest.approx(
            (curve["price"] - r["unit_cost"]) * curve["purchases"]
        )
        revenue_best = pa.advise(curve["price"].to_numpy(), curve["purchases"].to_numpy(),
                                 min_price=r["min_price"], max_price=r["max_price"],
                                 current_price=r["current_price"])  # fmt: skip
        assert r["best_price"] > revenue_best.best_price  # a margin pushes the price up
        others = read(db, "SELECT DISTINCT objective FROM analytics.price_recommendations"
                          " WHERE product_id <> 'P001'")  # fmt: skip
        assert others["objective"].tolist() == ["revenue"]
        advice = read(db, "SELECT product_id, objective, unit_cost, profit_per_day_at_current"
                          " FROM shop_model.price_advice ORDER BY product_id")  # fmt: skip
        assert advice["objective"].tolist() == ["profit"] + ["revenue"] * 14
        assert float(advice["unit_cost"].iloc[0]) == pytest.approx(r["base_price"] * 0.6)
        assert advice["profit_per_day_at_current"].iloc[0] > 0
    finally:
        conn = psycopg2.connect(db.dsn())
        with conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE public.products DROP COLUMN unit_cost")
        conn.close()


def test_a_changed_layout_is_recreated(db):
    conn = psycopg2.connect(db.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE analytics.price_curves DROP COLUMN profit")
        cur.execute("ALTER TABLE shop_model.price_advice DROP COLUMN guardrail")
    assert pt.ensure_tables(conn) == ["analytics.price_curves", "shop_model.price_advice"]
    assert pt.ensure_tables(conn) == []
    conn.close()


def test_a_column_dropped_from_the_declaration_leaves_the_log_s_rows(db):
    """An older runs log with a column this version no longer declares loses that column and
    keeps its history (its columns are otherwise the declared ones, in order)."""
    conn = psycopg2.connect(db.dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM analytics.price_recommendation_runs")
            (before,) = cur.fetchone()
            cur.execute("ALTER TABLE analytics.price_recommendation_runs ADD COLUMN retired text")
        assert before > 0
        assert pt.ensure_tables(conn) == []
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM analytics.price_recommendation_runs")
            assert cur.fetchone() == (before,)
            cur.execute(
                "SELECT array_agg(column_name::text ORDER BY ordinal_position) FROM "
                "information_schema.columns WHERE table_schema = 'analytics' AND table_name = "
                "'price_recommendation_runs'"
            )
            assert cur.fetchone()[0] == pt.PRICE_RECOMMENDATION_RUNS.column_names
    finally:
        conn.close()
