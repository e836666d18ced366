"""The price simulation page with a real model on the real MindsDB (trained once per session).

Predictions shown by the page are checked against the same model asked directly, and the
optimum against the curve the page drew.
"""

from __future__ import annotations

import threading

import pytest
import streamlit as st
from app_fixtures import APP_MODEL, HOME, TRAIN_SINCE, query
from streamlit.testing.v1 import AppTest
from test_app import all_text, plotly_specs

from profiteer_app import features as feat
from profiteer_app import formatting as fmt
from profiteer_app import predictor as pred
from profiteer_app.sample_data import train_model
from profiteer_pipeline import pricing
from profiteer_pipeline.model.client import MindsDBClient

pytestmark = pytest.mark.mindsdb
pytest_plugins = ["app_fixtures"]

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


def prediction_card(at: AppTest):
    cards = [m for m in at.metric if m.label.startswith("Predicted purchases/h at")]
    assert len(cards) == 1, all_text(at)
    return cards[0]


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


def test_slider_moves_the_prediction(app_env_model, mindsdb_url):
    (base, lo, hi) = query(
        app_env_model,
        "SELECT base_price, min_price, max_price FROM public.products WHERE product_id = %s",
        (PRODUCT,),
    )[0]
    at = open_simulation()
    slider = at.slider(key=f"price_{PRODUCT}")
    assert slider.value == pytest.approx(base)
    assert (slider.min, slider.max) == (pytest.approx(lo), pytest.approx(hi))
    first = prediction_card(at)
    (expected_base,) = direct_predictions(app_env_model, mindsdb_url, PRODUCT, BUCKET, [base])
    assert first.value == f"{expected_base:.1f}"
    assert first.label == f"Predicted purchases/h at {fmt.money(base, exact=True)}"
    # the change against the bucket's historical average
    (avg,) = query(
        app_env_model,
        "SELECT avg_purchases FROM analytics.avg_purchases_by_bucket"
        " WHERE product_id = %s AND time_of_day_bucket = %s",
        (PRODUCT, BUCKET),
    )[0]
    assert first.delta == fmt.signed_percent(fmt.change_pct(expected_base, avg))

    slider.set_value(hi).run()
    assert not at.exception
    moved = prediction_card(at)
    (expected_hi,) = direct_predictions(app_env_model, mindsdb_url, PRODUCT, BUCKET, [hi])
    assert moved.value == f"{expected_hi:.1f}"
    assert moved.value != first.value  # the model's demand falls at the top of the range
    assert expected_hi < expected_base


def test_revenue_curve_and_optimum(app_env_model, mindsdb_url):
    sidebar: list[str] = []
    at = open_simulation(sidebar=sidebar)
    assert any(
        line.startswith(f":green[●] Model `{APP_MODEL.qualified_name}` v1 ready, accuracy ")
        for line in sidebar
    ), sidebar
    specs = plotly_specs(at)
    (revenue,) = [s for s in specs if s["layout"]["title"]["text"] == "Revenue curve"]
    (purchases,) = [s for s in specs if s["layout"]["title"]["text"] == "Predicted purchases"]
    curve, best_marker, base_marker = revenue["data"]
    (base, lo, hi) = query(
        app_env_model,
        "SELECT base_price, min_price, max_price FROM public.products WHERE product_id = %s",
        (PRODUCT,),
    )[0]
    grid = pricing.price_grid(lo, hi, pricing.DEFAULT_POINTS, include=base)
    assert curve["x"] == pytest.approx(grid.tolist())
    # one batch from the page = the same model asked directly for every grid price
    expected = direct_predictions(app_env_model, mindsdb_url, PRODUCT, BUCKET, grid)
    assert purchases["data"][0]["y"] == pytest.approx(expected)
    assert curve["y"] == pytest.approx([p * q for p, q in zip(grid, expected, strict=True)])
    # the optimum is the curve's maximum, marked, and reported with its gain over the base price
    best = max(range(len(grid)), key=lambda i: (curve["y"][i], -i))
    assert best_marker["x"] == [pytest.approx(grid[best])]
    assert best_marker["y"] == [pytest.approx(curve["y"][best])]
    base_revenue = base * expected[list(grid).index(base)]
    assert base_marker["x"] == [pytest.approx(base)]
    cards = {m.label: m for m in at.metric}
    assert cards["Best price"].value == fmt.money(grid[best], exact=True)
    gain = curve["y"][best] - base_revenue
    assert gain >= 0
    assert cards["Expected gain/h vs base price"].value == fmt.money(gain)

    # the button moves the slider to the best price, and the prediction follows
    at.button[0].click().run()
    assert not at.exception
    assert at.slider(key=f"price_{PRODUCT}").value == pytest.approx(grid[best])
    assert (
        prediction_card(at).label == f"Predicted purchases/h at {fmt.money(grid[best], exact=True)}"
    )


def test_time_of_day_changes_the_inputs(app_env_model):
    at = open_simulation(bucket="Overnight")
    night = prediction_card(at).value
    cards = {m.label: m for m in at.metric}
    (avg,) = query(
        app_env_model,
        "SELECT avg_purchases FROM analytics.avg_purchases_by_bucket"
        " WHERE product_id = %s AND time_of_day_bucket = 'Overnight'",
        (PRODUCT,),
    )[0]
    assert cards["Historical purchases/h, overnight"].value == f"{avg:.1f}"
    at.get("button_group")[0].set_value("Afternoon").run()
    assert not at.exception
    assert "Historical purchases/h, afternoon" in {m.label for m in at.metric}
    assert prediction_card(at).value != night  # afternoon hours have ~3x the views


def test_missing_model_banner(app_env_model, monkeypatch):
    monkeypatch.setenv("PROFITEER_MODEL", "mindsdb.no_such_model")
    sidebar: list[str] = []
    at = open_simulation(sidebar=sidebar)
    assert any("No model yet" in i.value for i in at.info)
    assert "Historical purchases/h, afternoon" in {
        m.label for m in at.metric
    }  # the rest still works
    assert not at.get("plotly_chart")
    assert "Model `mindsdb.no_such_model`: missing" in "\n".join(sidebar)


def test_training_model_banner(app_env_model, mindsdb_url, monkeypatch):
    """While a model trains, the page says so (and recovers once it is complete)."""
    spec = APP_MODEL.with_name("app_test_training")
    done = threading.Event()
    errors: list[BaseException] = []

    def train():
        try:
            train_model(mindsdb_url, spec, app_env_model, since=TRAIN_SINCE)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=train, daemon=True)
    worker.start()
    monkeypatch.setenv("PROFITEER_MODEL", spec.qualified_name)
    seen = None
    for _ in range(200):  # wait until MindsDB lists the new model as generating/training
        status = pred.Predictor(mindsdb_url, spec.project, spec.name).status()
        if status.status in ("generating", "training"):
            seen = status.status
            break
        assert not done.is_set() or errors, "training finished before it was seen"
        done.wait(0.2)
    assert seen, errors
    at = open_simulation()
    banner = [i.value for i in at.info if "still training" in i.value]
    assert banner and "app_test_training" in banner[0], all_text(at)
    assert not at.get("plotly_chart")
    done.wait(300)
    assert not errors, errors
    st.cache_data.clear()
    at = open_simulation()
    assert len(at.get("plotly_chart")) == 2
    MindsDBClient(mindsdb_url).query(f"DROP MODEL IF EXISTS {spec.qualified_name}")
