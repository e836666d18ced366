"""The price simulation page with a real model on the real MindsDB (trained once per session).

The page reads the stored curve (`recommendation_fixtures`: the asset's computation with the
app's model); the stored predictions and the live button's exact prediction are checked against
the same model asked directly. With MindsDB down: test_app_recommendations.py.
"""

from __future__ import annotations

import pytest
from app_fixtures import APP_MODEL, HOME, query
from streamlit.testing.v1 import AppTest
from test_app import plotly_specs

from profiteer_app import features as feat
from profiteer_app import formatting as fmt
from profiteer_app import predictor as pred

pytestmark = pytest.mark.mindsdb
pytest_plugins = ["app_fixtures", "recommendation_fixtures"]

TIMEOUT = 60  # the first prediction after MindsDB starts can take ~18 s (cold ML worker)
PRODUCT = "P001"
BUCKET = "Afternoon"


def open_simulation(product: str = PRODUCT, bucket: str = BUCKET, sidebar: list | None = None):
    """The simulation page for `product` and `bucket`; `sidebar` gets the sidebar's texts (AppTest
    shows the sidebar only on the first run, before the page switch)."""
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.session_state["product"] = product
    at.session_state["bucket"] = bucket
    at.run()
    if sidebar is not None:
        sidebar.extend(m.value for m in at.sidebar.markdown)
    at.switch_page("views/simulation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def direct_predictions(url, mindsdb_url: str, product: str, bucket: str, prices) -> list[float]:
    (row,) = query(
        url,
        "SELECT product_id, category, base_price, min_price, max_price FROM public.products"
        " WHERE product_id = %s",
        (product,),
    )
    product_row = dict(
        zip(["product_id", "category", "base_price", "min_price", "max_price"], row, strict=True)
    )
    cols = ["time_of_day_bucket", "avg_views", "avg_cart_adds", "avg_rating",
            "avg_popularity_factor", "avg_purchases"]  # fmt: skip
    (inputs,) = query(
        url,
        f"SELECT {', '.join(cols)} FROM analytics.avg_purchases_by_bucket"  # noqa: S608
        " WHERE product_id = %s AND time_of_day_bucket = %s",
        (product, bucket),
    )
    rows = feat.feature_rows(product_row, dict(zip(cols, inputs, strict=True)), prices)
    predictor = pred.Predictor(mindsdb_url, APP_MODEL.project, APP_MODEL.name)
    return predictor.predict(rows).tolist()


def stored(url, product: str, bucket: str) -> tuple[list[float], list[float], tuple]:
    prices_q = query(
        url,
        "SELECT price, model_purchases FROM analytics.price_curves WHERE product_id = %s"
        " AND time_of_day_bucket = %s ORDER BY price",
        (product, bucket),
    )
    (rec,) = query(
        url,
        "SELECT current_price, best_price FROM analytics.price_recommendations"
        " WHERE product_id = %s AND time_of_day_bucket = %s",
        (product, bucket),
    )
    return [p for p, _ in prices_q], [q for _, q in prices_q], rec


def test_stored_curve_is_the_models_batch_prediction(
    app_recommendations, app_env_model, mindsdb_url
):
    prices, model_q, _ = stored(app_env_model, PRODUCT, BUCKET)
    assert len(prices) >= 41
    expected = direct_predictions(app_env_model, mindsdb_url, PRODUCT, BUCKET, prices)
    assert model_q == pytest.approx(expected)
    at = open_simulation()
    demand, _ = plotly_specs(at)[-2:]  # the time of day's, after the per-day curves
    model_trace = next(t for t in demand["data"] if t["name"].startswith("model"))
    assert model_trace["y"] == pytest.approx(expected)


def test_live_button_asks_the_model_at_the_slider_price(
    app_recommendations, app_env_model, mindsdb_url
):
    _, _, (current, best) = stored(app_env_model, PRODUCT, BUCKET)
    sidebar: list[str] = []
    at = open_simulation(sidebar=sidebar)
    assert any(line.startswith(f":green[●] Model `{APP_MODEL.qualified_name}` v1 ready")
               for line in sidebar), sidebar  # fmt: skip
    assert not at.success  # nothing asked yet
    at.button(key="live_button").click().run()
    assert not at.exception
    (live,) = direct_predictions(app_env_model, mindsdb_url, PRODUCT, BUCKET, [current])
    (ok,) = at.success
    assert f"**{live:.1f} purchases/h** at {fmt.money(current, exact=True)}" in ok.value
    # the best-price button moves the slider there; the live answer is per price
    at.button[0].click().run()
    assert float(at.select_slider(key=f"price_{PRODUCT}").value) == pytest.approx(best)
    assert not at.success


def test_time_of_day_changes_the_curve(app_recommendations, app_env_model):
    at = open_simulation(bucket="Overnight")
    night = plotly_specs(at)[-2]
    at.get("button_group")[0].set_value("Afternoon").run()
    assert not at.exception
    day = plotly_specs(at)[-2]
    smooth = lambda spec: next(t for t in spec["data"] if t["name"] == "demand line")["y"]  # noqa: E731
    assert max(smooth(day)) > max(smooth(night))  # afternoon hours have ~3x the views
