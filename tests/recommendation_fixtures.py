"""The stored price recommendations in the app's test warehouse, from the app's test model.

Load with `pytest_plugins = ["app_fixtures", "recommendation_fixtures"]`. `app_recommendations`
runs the asset's own computation (`model.recommendations.refresh`) once per session with the
app's model `app_test_forecast`, so the app's pages read real stored curves. The error band
and the figures against the same-hour baselines come from that model's error on the latest 24
hours (in-sample here: the fixture's model is trained on every hour, unlike the pipeline's, whose
held-out twin never saw them).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import psycopg2
import pytest
from app_fixtures import APP_MODEL, HOURS, START

from profiteer_pipeline.model import evaluation, shop_backtest, training
from profiteer_pipeline.model import recommendations as recs
from profiteer_pipeline.model.client import MindsDBClient

SALES = 'SELECT product_id, "timestamp", purchases FROM public.sales'


@pytest.fixture(scope="session")
def app_recommendations(app_db, app_model, mindsdb_url):
    client = MindsDBClient(mindsdb_url, read_timeout=300)
    since = START + timedelta(hours=HOURS - 24)
    preds = training.held_out_predictions(client, app_model, since)
    m = evaluation.regression_metrics(preds["actual"], preds["predicted"])
    error = {"r2": m["r2"], "mae": m["mae"], "rmse": m["rmse"],
             "mean_purchases": m["mean_actual"], "relative_error": m["rmse"] / m["mean_actual"]}  # fmt: skip
    active = client.active(app_model.name, app_model.project)
    conn = psycopg2.connect(app_db.dsn())
    try:
        with conn.cursor() as cur:
            cur.execute(SALES)
            sales = pd.DataFrame(cur.fetchall(), columns=["product_id", "timestamp", "purchases"])
        error["training_rows"] = len(sales)
        # the backtest the pipeline runs, on the fixture model's predictions of the latest day
        ev = shop_backtest.score(shop_backtest.panel(sales), lambda _start, _end: preds).evaluation
        assert ev.held_out_from == since and ev.folds == 1
        error |= ev.figures | {
            "held_out_from": since,
            "held_out_rows": ev.rows,
            "no_advice": ev.no_advice_reason(),
        }
        result, run, _ = recs.refresh(
            conn,
            lambda rows: training.predict_frame(client, app_model, rows).to_numpy(),
            app_model.features,
            model=APP_MODEL.qualified_name,
            model_version=active.version if active else None,
            error=error,
        )
    finally:
        conn.close()
    return result, run
