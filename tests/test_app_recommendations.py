"""The Recommendations page and the stored-curve simulation under AppTest, with MindsDB down.

The recommendations are the asset's own computation with the app's test model
(`recommendation_fixtures`); then MINDSDB_URL points at a closed port (`app_env`), so every
figure on these pages must come from the warehouse. Expected values are read with the admin login.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from app_fixtures import HOME, query
from streamlit.testing.v1 import AppTest
from test_app import all_text, plotly_specs

from profiteer_app import formatting as fmt
from profiteer_app.views import recommendations as page

pytestmark = pytest.mark.mindsdb  # the fixture computes the curves with the app's model
pytest_plugins = ["app_fixtures", "recommendation_fixtures"]

TIMEOUT = 30
REC = "views/recommendations.py"
SIM = "views/simulation.py"


@pytest.fixture
def stored(app_recommendations, app_env):
    """The app on the test warehouse with stored recommendations; MindsDB unreachable."""
    return app_env


def rows(url, where: str = "true") -> pd.DataFrame:
    cols = ["product_id", "time_of_day_bucket", "category", "confidence", "gain_per_day",
            "band_per_day", "recommended_price", "current_price", "best_price"]  # fmt: skip
    found = query(
        url,
        f"SELECT {', '.join(cols)} FROM analytics.price_recommendations WHERE {where}",  # noqa: S608
    )
    return pd.DataFrame(found, columns=cols)


def execute(url, statement: str, params=None) -> None:
    """Change the stored tables with the admin login (committed), and clear the app's cache."""
    import psycopg2
    import streamlit as st

    with psycopg2.connect(url.dsn()) as conn, conn.cursor() as cur:  # commits
        cur.execute(statement, params)
    st.cache_data.clear()


def open_page(page_path: str, **state) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page(page_path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(at: AppTest) -> pd.DataFrame:
    """The shop's table by time of day (the per-product advice's tables have no bucket)."""
    (df,) = [d.value for d in at.dataframe if "time_of_day_bucket" in d.value.columns]
    return df


def test_the_shop_shows_the_per_product_advice_an_import_shows(stored, download_files):
    """The sections an import's Recommendations page has, from the shop's `price_advice`: the
    best price per product with the guardrail and the elasticity's interval, the products with
    no change and why, and the CSV of the whole contract."""
    from profiteer_app.advice_data import ADVICE_COLUMNS

    cols = ["product_id", "status", "best_price", "guardrail", "note"]
    found = query(stored, f"SELECT {', '.join(cols)} FROM shop_model.price_advice")  # noqa: S608
    advice = pd.DataFrame(found, columns=cols)
    assert len(advice) == 15
    at = open_page(REC)
    headers = [h.value for h in at.subheader]
    assert headers[0] == "Best price per product" and "By time of day" in headers
    advised = advice[advice["status"] == "advice"]
    tables = [d.value for d in at.dataframe if {"guardrail", "best_price"} <= set(d.value.columns)]
    if advised.empty:
        assert not tables and any("No recommended price" in i.value for i in at.info)
    else:
        (table,) = tables
        assert sorted(table["product_id"]) == sorted(advised["product_id"])
        assert {"elasticity", "elasticity_low", "elasticity_high", "note"} <= set(table.columns)
        by_id = table.set_index("product_id")
        for row in advised.itertuples():
            assert by_id.loc[row.product_id, "guardrail"] == row.guardrail
            assert by_id.loc[row.product_id, "best_price"] == pytest.approx(float(row.best_price))
    # the import's sections, in its order (none is "not merchandise" here: that one is left out)
    assert headers[:3] == ["Best price per product", "No price change advised",
                           "Too little data for a price curve"]  # fmt: skip
    (served,) = [download_files(b) for b in at.get("download_button")
                 if download_files(b).filename == "shop_price_advice.csv"]  # fmt: skip
    back = pd.read_csv(io.BytesIO(served.content))
    assert list(back.columns) == list(ADVICE_COLUMNS) and len(back) == 15


def test_catalog_opens_the_products_simulation(stored):
    at = open_page("views/catalog.py")
    at.button(key="simulate_P007").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Price simulation"]
    assert at.selectbox(key="product").value == "P007"
    assert at.query_params["product"] == ["P007"] or at.query_params["product"] == "P007"


def test_table_summary_and_filters(stored):
    expected = rows(stored)
    at = open_page(REC)
    assert [t.value for t in at.title] == ["Price recommendations"]
    df = shown(at)
    assert len(df) == len(expected) == 15 * 4
    assert list(df["gain_per_day"]) == sorted(df["gain_per_day"], reverse=True)  # default sort
    act = expected[expected["confidence"].isin(["high", "medium"])]
    gain = act["gain_per_day"].sum()
    band = math.sqrt((act["band_per_day"] ** 2).sum())
    card = next(m for m in at.metric if m.label == "Applying all recommendations")
    assert card.value == f"+{fmt.money(gain)}/day" and card.delta == f"± {fmt.money(band)}"
    assert next(m for m in at.metric if m.label == "Changes recommended").value == (
        f"{len(act)} of 60"
    )
    ((r2,),) = query(stored, "SELECT held_out_r2 FROM analytics.price_recommendation_runs"
                     " ORDER BY computed_at DESC LIMIT 1")  # fmt: skip
    assert next(m for m in at.metric if m.label.startswith("Model,")).value == f"R² {r2:.2f}"
    assert "Maximizing **revenue**: no unit costs are known" in all_text(at)
    # filter: one category, one bucket
    category = sorted(expected["category"].unique())[0]
    at.multiselect(key="rec_categories").set_value([category]).run()
    at.multiselect(key="rec_buckets").set_value(["Evening"]).run()
    df = shown(at)
    want = expected[
        (expected["category"] == category) & (expected["time_of_day_bucket"] == "Evening")
    ]
    assert sorted(df["product_id"]) == sorted(want["product_id"])
    assert set(df["time_of_day_bucket"]) == {"Evening"}
    # a "no change" row keeps its price and gains nothing: in the filtered view (exactly its
    # stored "no change" rows, maybe none), then over the whole table (at least one)
    quiet = df[df["mark"] == page.MARKS["no change"]]
    assert len(quiet) == (want["confidence"] == "no change").sum()
    assert (quiet["recommended_price"] == quiet["current_price"]).all()
    assert (quiet["gain_per_day"] == 0).all()
    # over the whole table, with one row's change withheld here as the asset withholds a gain
    # within its band (`recommendations.withheld`), and taken back: the rows with no change are
    # exactly the stored ones, at their current price, gaining nothing
    pid, bucket, confidence, price = expected.sort_values("gain_per_day").iloc[0][
        ["product_id", "time_of_day_bucket", "confidence", "recommended_price"]
    ]
    try:
        execute(stored, "UPDATE analytics.price_recommendations SET confidence = 'no change', "
                "recommended_price = current_price WHERE product_id = %s AND "
                "time_of_day_bucket = %s", (pid, bucket))  # fmt: skip
        at = open_page(REC)
        df = shown(at)
        assert len(df) == 60
        stored_quiet = rows(stored, "confidence = 'no change'")
        quiet = df[df["mark"] == page.MARKS["no change"]]
        assert len(quiet) == len(stored_quiet) > 0
        assert sorted(zip(quiet["product_id"], quiet["time_of_day_bucket"], strict=True)) == (
            sorted(zip(stored_quiet["product_id"], stored_quiet["time_of_day_bucket"], strict=True))
        )
        assert (quiet["recommended_price"] == quiet["current_price"]).all()
        assert (quiet["gain_per_day"] == 0).all()
    finally:
        execute(stored, "UPDATE analytics.price_recommendations SET confidence = %s, "
                "recommended_price = %s WHERE product_id = %s AND time_of_day_bucket = %s",
                (confidence, float(price), pid, bucket))  # fmt: skip


def test_a_model_that_lost_to_its_baseline_shows_why_no_price_moves(stored):
    """The evaluation every source stores, lost (changed here and taken back): the card says so,
    no product has a price, and the table by time of day says why it moves none either."""
    (kept,) = query(
        stored, "SELECT model_rmsse, trailing_mean_rmsse FROM shop_model.model_evaluation"
    )
    try:
        at = open_page(REC)
        assert not [w for w in at.warning if "No price change is advised" in w.value]
        card = next(m for m in at.metric if m.label.startswith("Model,"))
        assert card.value.startswith("R² ") and "the evaluation above" in card.help
        execute(stored, "UPDATE shop_model.model_evaluation SET model_rmsse = 0.9, "
                "trailing_mean_rmsse = 0.8 WHERE model_rmsse = %s", (kept[0],))  # fmt: skip
        at = open_page(REC)
        (lost,) = [
            w.value for w in at.warning if "does not beat the same-hour 7-day mean**" in w.value
        ]
        assert "RMSSE 0.900 against 0.800" in lost and "no price change" in lost
        assert not [d for d in at.dataframe if {"guardrail", "best_price"} <= set(d.value.columns)]
        rmsse = next(m for m in at.metric if m.label == "Out-of-sample RMSSE")
        assert rmsse.value == "0.90" and rmsse.delta == "+12.5 %"
        (by_time,) = [w.value for w in at.warning if "No price change is advised" in w.value]
        assert "does not beat the same-hour 7-day mean out of sample" in by_time
        assert "RMSSE 0.900 against 0.800" in by_time
    finally:
        execute(stored, "UPDATE shop_model.model_evaluation SET model_rmsse = %s, "
                "trailing_mean_rmsse = %s", kept)  # fmt: skip


def test_sort_and_csv(stored, download_files):
    at = open_page(REC)
    at.selectbox(key="rec_sort").set_value("Product").run()
    names = list(shown(at)["product_name"])
    assert names == sorted(names)
    at.radio(key="rec_order").set_value("descending").run()
    assert list(shown(at)["product_name"]) == sorted(names, reverse=True)
    at.toggle(key="rec_only_changes").set_value(True).run()
    df = shown(at)
    assert set(df["mark"]) <= {page.MARKS["high"], page.MARKS["medium"]}
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Download CSV"
                 and download_files(b).filename == "price_recommendations.csv"]  # fmt: skip
    # the file the button serves (its bytes in the run's media storage), parsed as CSV: the
    # shown table, row for row, and the stored confident changes, by name descending
    served = download_files(button)
    assert (served.mimetype, served.filename) == ("text/csv", "price_recommendations.csv")
    back = pd.read_csv(io.BytesIO(served.content))
    assert list(back.columns) == [
        "product_name", "product_id", "category", "time_of_day_bucket", "current_price",
        "recommended_price", "base_price", "change_pct", "gain_per_hour", "gain_per_day",
        "band_per_day", "gain_pct", "mark", "guardrail", "objective", "note",
    ]  # fmt: skip
    assert len(back) == len(df) > 0
    for column in ("product_id", "time_of_day_bucket", "mark", "objective"):
        assert list(back[column]) == list(df[column]), column
    for column in ("current_price", "recommended_price", "gain_per_day", "band_per_day"):
        assert back[column].tolist() == pytest.approx(df[column].tolist()), column
    act = rows(stored, "confidence IN ('high', 'medium')")
    assert sorted(zip(back["product_id"], back["time_of_day_bucket"], strict=True)) == sorted(
        zip(act["product_id"], act["time_of_day_bucket"], strict=True)
    )
    assert list(back["product_name"]) == sorted(back["product_name"], reverse=True)
    want = act.set_index(["product_id", "time_of_day_bucket"])["recommended_price"]
    got = back.set_index(["product_id", "time_of_day_bucket"])["recommended_price"]
    assert got.sort_index().tolist() == pytest.approx(want.sort_index().tolist())


def test_open_simulation_from_the_table(stored):
    at = open_page(REC)
    df = shown(at)
    target = df.iloc[3]
    at.selectbox(key="rec_pick").set_value(3).run()
    at.button(key="rec_open").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Price simulation"]
    assert at.selectbox(key="product").value == target["product_id"]
    assert at.session_state["bucket"] == target["time_of_day_bucket"]


def test_simulation_reads_the_stored_curve_with_mindsdb_down(stored):
    at = open_page(SIM, product="P003", bucket="Afternoon")
    assert not at.warning  # no model call on load: nothing to fail
    curve = pd.DataFrame(
        query(stored, "SELECT price, purchases, model_purchases FROM analytics.price_curves"
                      " WHERE product_id = 'P003' AND time_of_day_bucket = 'Afternoon'"
                      " ORDER BY price"),
        columns=["price", "purchases", "model_purchases"],
    )  # fmt: skip
    (rec,) = query(stored, "SELECT best_price, current_price, base_price, min_price, max_price"
                           " FROM analytics.price_recommendations WHERE product_id = 'P003'"
                           " AND time_of_day_bucket = 'Afternoon'")  # fmt: skip
    best, current, base, lo, hi = rec
    demand, value = plotly_specs(at)[-2:]  # the time of day's, after the per-day curves
    smooth = next(t for t in demand["data"] if t["name"] == "demand line")
    assert smooth["y"] == pytest.approx(curve["purchases"].tolist())
    observed = next(t for t in demand["data"] if t["name"].startswith("observed"))
    assert len(observed["x"]) > 0
    assert demand["layout"]["yaxis"]["range"][0] == 0 and value["layout"]["yaxis"]["range"][0] == 0
    cards = {m.label: m for m in at.metric}
    assert cards["Best price, afternoon"].value == fmt.money(best, exact=True)
    assert "Stored curve, interpolated" in all_text(at)
    slider = at.select_slider(key="price_P003")
    labels = list(slider.options)  # formatted: the price, and which price it is
    assert labels[0].startswith(fmt.money(lo, exact=True))
    assert labels[-1].startswith(fmt.money(hi, exact=True))
    for price, tag in [(base, "base"), (current, "current"), (best, "best")]:
        assert any(x.startswith(fmt.money(price, exact=True)) and f"· {tag}" in x for x in labels)
    assert float(slider.value) == pytest.approx(current)
    # a slider move is answered from the stored curve (interpolated), with MindsDB down
    target = round(float(np.linspace(lo, hi, 61)[20]), 2)  # one of the slider's even steps
    slider.set_value(target).run()
    assert not at.exception
    label = f"Purchases/h at {fmt.money(target, exact=True)}"
    want = np.interp(target, curve["price"], curve["purchases"])
    assert {m.label: m.value for m in at.metric}[label] == f"{want:.1f}"
    assert any(m.label == "Price −1 %" and m.value.endswith(" % sales") for m in at.metric)
    # the live prediction is a button: with MindsDB down it is a banner, the curve stays
    at.button(key="live_button").click().run()
    assert not at.exception
    (banner,) = at.warning
    assert banner.value.startswith("**MindsDB unreachable** — the stored curve above still holds")
    assert len(at.get("plotly_chart")) == 4  # per day (2), then the time of day's (2)


def test_the_shop_s_simulation_opens_with_the_per_day_curve_every_source_shows(stored):
    """Per day, as for an import: the product's stored daily curve (`shop_model.price_curves`),
    its elasticity with the 90 % interval and the guardrail that bound its best price, or why
    it has no best price."""
    cols = ["status", "best_price", "elasticity", "elasticity_low", "elasticity_high",
            "guardrail", "note"]  # fmt: skip
    (row,) = query(stored, f"SELECT {', '.join(cols)} FROM shop_model.price_advice"  # noqa: S608
                           " WHERE product_id = 'P003'")  # fmt: skip
    advice = dict(zip(cols, row, strict=True))
    curve = query(stored, "SELECT units_per_day FROM shop_model.price_curves"
                          " WHERE product_id = 'P003' ORDER BY price")  # fmt: skip
    at = open_page(SIM, product="P003", bucket="Afternoon")
    headers = [h.value for h in at.subheader]
    assert headers.index("Per day") < headers.index("By time of day")
    if advice["status"] != "advice":
        assert any(fmt.md_escape(advice["note"]) in i.value for i in at.info)
        return
    units = next(t for t in plotly_specs(at)[0]["data"] if t["name"].startswith("model"))
    assert units["y"] == pytest.approx([float(u) for (u,) in curve]) and len(curve) > 5
    text = all_text(at)
    e, lo, hi = (advice[k] for k in ("elasticity", "elasticity_low", "elasticity_high"))
    assert f"**Elasticity {e:.2f}** (90 % interval {lo:.2f} to {hi:.2f})" in text
    assert f"**Guardrail**: {fmt.md_escape(advice['guardrail'])}" in text
    labels = list(at.select_slider(key="daily_price_P003").options)
    assert any(x.startswith(fmt.money(float(advice["best_price"]), exact=True)) for x in labels)


def test_unit_cost_switches_to_profit(stored):
    at = open_page(SIM, product="P003", bucket="Afternoon")
    revenue_best = {m.label: m.value for m in at.metric}["Best price, afternoon"]
    (base,) = query(stored, "SELECT base_price FROM public.products WHERE product_id = 'P003'")[0]
    at.number_input(key="cost_P003").set_value(round(base * 0.7, 2)).run()
    assert not at.exception
    assert "Maximizing **profit** with a unit cost" in all_text(at)
    assert [s["layout"]["title"]["text"] for s in plotly_specs(at)][-1].startswith(
        "Expected profit"
    )
    profit_best = {m.label: m.value for m in at.metric}["Best price, afternoon"]
    parse = lambda s: float(s.replace(fmt.currency_symbol(), "").replace(",", ""))  # noqa: E731
    assert parse(profit_best) >= parse(revenue_best)


def test_catalog_shows_current_and_recommended_prices(stored, monkeypatch):
    """Each product's card: its current price, and its recommended price with the time of day
    of its largest confident gain per day, or "keep" when no change is confident."""
    monkeypatch.delenv("PROFITEER_CURRENCY", raising=False)  # prices as "$1,234.50"
    at = open_page("views/catalog.py")
    texts = [m.value for m in at.markdown]
    recs = rows(stored)
    recommended = 0
    for pid, g in recs.groupby("product_id"):
        (current,) = set(g["current_price"])  # the latest hour's price, one per product
        # the card's price line follows its id line ("`P001` · ★ 4.2 ...")
        (at_id,) = [i for i, t in enumerate(texts) if t.startswith(f"`{pid}` · ")]
        line = texts[at_id + 1]
        act = g[g["confidence"].isin(["high", "medium"])]
        if act.empty:
            assert line == f"now ${current:,.2f} · :gray[keep]", pid
            continue
        top = act.sort_values("gain_per_day", ascending=False).iloc[0]
        assert line.startswith(f"now ${current:,.2f}  \n"), (pid, line)
        # the recommended price and the gain of the same time of day
        to = (
            f":green[→ ${top['recommended_price']:,.2f}] {top['time_of_day_bucket'].lower()} · "
            f":green[+{fmt.money(top['gain_per_day'])}/day]"
        )
        assert to in line, (pid, line)
        if len(act) > 1:
            total = f"+{fmt.money(act['gain_per_day'].sum())}/day over {len(act)} times of day"
            assert total in line, (pid, line)
        recommended += 1
    assert recommended > 0  # at least one card shows a recommended price


def test_simulation_with_a_missing_model_still_shows_the_stored_curve(
    app_recommendations, app_env_model, monkeypatch
):
    """MindsDB up but the model gone (or not ready): the curve and best price still render."""
    monkeypatch.setenv("PROFITEER_MODEL", "mindsdb.no_such_model")
    at = open_page(SIM, product="P005", bucket="Evening")
    assert len(at.get("plotly_chart")) == 4  # per day (2), then the time of day's (2)
    assert "Best price, evening" in {m.label for m in at.metric}
    assert "the model is not ready (missing) right now" in all_text(at)
    at.button(key="live_button").click().run()
    assert not at.exception
    assert any("No model yet" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 4  # per day (2), then the time of day's (2)


def test_the_catalog_table_shows_each_product_s_advice_as_an_import_s_does(stored):
    """The catalog's table every source shows: the shop's 15 products with their sales from the
    metric tables and what `price_advice` says of each; the cards by category follow (the shop
    has a catalog with pictures)."""
    found = query(stored, "SELECT a.product_id, a.status, a.best_price, s.total_purchases"
                          " FROM shop_model.price_advice a"
                          " JOIN analytics.product_stats s USING (product_id)")  # fmt: skip
    at = open_page("views/catalog.py")
    (table,) = [d.value for d in at.dataframe if "latest_hour" in d.value.columns]
    assert len(table) == len(found) == 15
    by_id = table.set_index("product_id")
    for pid, status, best, units in found:
        row = by_id.loc[pid]
        assert row["status"] == {"advice": "change", "no_change": "keep"}[status]
        assert row["units"] == units
        if best is not None:
            assert row["best_price"] == pytest.approx(float(best))
    assert len([b for b in at.button if b.key.startswith("simulate_")]) == 15
