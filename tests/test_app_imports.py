"""The app on an imported order export: the sidebar's source switch, then every page on the
import's own data (AppTest, the real embedded PostgreSQL, as the app's read-only login).

The import is real (run_import with the File source, tests/app_fixtures.py `import_db`); the
model's tables are written by the fixture from a known curve (units/day ∝ price^-2), so the
expected figures are known; the model itself is tested with the `import_forecast` asset.
Expected values are read with the admin login, independently of the app's queries.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg2
import pytest
import streamlit as st
from app_fixtures import (
    ELASTICITY,
    EVALUATION,
    FRESH,
    HOME,
    IMPORTED,
    SELECTION,
    closed_port,
    gain_range,
    order_export,
    plotly_specs,
    point_app_at,
    query,
)
from streamlit.testing.v1 import AppTest

from profiteer_app import formatting as fmt
from profiteer_app.sample_data import recreate_database
from profiteer_pipeline.pricing import advice_table
from profiteer_pipeline.stack.roles import grant_reader

pytest_plugins = ["app_fixtures"]

TIMEOUT = 30
SIMULATED = "Simulated shop"


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    return "\n".join(parts + [i.value for i in at.info])


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def on_import(name: str = IMPORTED, page: str | None = None) -> AppTest:
    """The app, switched to the import `name` in the sidebar, then on `page`."""
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    ok(at).sidebar.selectbox(key="source").set_value(name).run()
    if page:
        at.switch_page(page).run()
    return ok(at)


def cards(at: AppTest) -> dict:
    return {m.label: m for m in at.metric}


TABLES = {  # each table of the import's pages by the columns only it has
    "import_top": ({"returned_units"}, set()),
    "import_rejected": ({"reason"}, set()),
    "catalog": ({"min_price", "latest_hour"}, set()),
    "advice": ({"best_price", "gain_per_day"}, set()),
    "advice_no_change": ({"note", "category"}, {"best_price"}),
    "advice_too_little": ({"note", "sale_hours"}, {"best_price", "category"}),
    "advice_excluded": ({"note"}, {"sale_hours"}),
}


def frame(at: AppTest, table: str) -> pd.DataFrame:
    has, lacks = TABLES[table]
    found = [d.value for d in at.dataframe]
    found = [f for f in found if has <= set(f.columns) and not lacks & set(f.columns)]
    assert len(found) == 1, f"{len(found)} tables like {table}"
    return found[0]


def totals(url, name: str = IMPORTED) -> dict:
    schema = f"import_{name}"
    (units, revenue, returned), = query(
        url, f"SELECT sum(units), sum(revenue), sum(returned_units) FROM {schema}.daily"  # noqa: S608
    )  # fmt: skip
    (summary,) = query(url, "SELECT summary FROM imports_raw.imports WHERE name = %s", (name,))[0]
    return {"units": float(units), "revenue": float(revenue), "returned": float(returned),
            "summary": summary}  # fmt: skip


# --- the switch --------------------------------------------------------------------------------


def test_switch_lists_imports_newest_first(import_env):
    at = ok(AppTest.from_file(HOME, default_timeout=TIMEOUT).run())
    switch = at.sidebar.selectbox(key="source")
    assert switch.value == ""  # the simulated shop by default
    assert switch.options[0] == SIMULATED
    assert [o.split(" ")[1] for o in switch.options[1:]] == [FRESH, IMPORTED]
    assert switch.options[2] == f"Import: {IMPORTED} · orders.csv"


def test_no_imports_shows_only_the_simulated_shop(app_env):
    """The simulated shop's warehouse has no imports table at all: one option, no error."""
    at = ok(AppTest.from_file(HOME, default_timeout=TIMEOUT).run())
    assert at.sidebar.selectbox(key="source").options == [SIMULATED]
    assert cards(at)["Revenue so far"].value.startswith("$")  # the shop's dashboard as before


def test_imports_the_app_may_not_read_are_not_offered(settings, monkeypatch):
    """An imports list without the reader's grant (an import made without them): no error."""
    url = recreate_database(settings.warehouse, "profiteer_app_no_grant")
    grant_reader(url.dsn(), settings.reader_user, url.database)
    conn = psycopg2.connect(url.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA imports_raw; CREATE TABLE imports_raw.imports (name text,"
                    " file_name text, layout text, imported_at timestamptz);"
                    " INSERT INTO imports_raw.imports VALUES ('hidden', 'x.csv', 'plain', now())")  # fmt: skip
    conn.close()
    point_app_at(monkeypatch, url, f"http://127.0.0.1:{closed_port()}")
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="source").options == [SIMULATED]


def test_link_opens_an_import_and_the_choice_persists_across_pages(import_env):
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.query_params["source"] = IMPORTED
    ok(at.run())
    assert at.sidebar.selectbox(key="source").value == IMPORTED
    assert at.title[0].value == "Dashboard" and "Import **test\\_shop**" in texts(at)
    for page in ("views/catalog.py", "views/recommendations.py", "views/simulation.py"):
        ok(at.switch_page(page).run())
        assert at.sidebar.selectbox(key="source").value == IMPORTED, page
    assert "orders.csv" in "\n".join(m.value for m in at.sidebar.markdown)
    ok(at.sidebar.selectbox(key="source").set_value("").run())  # back to the simulated shop
    assert "Import **" not in texts(at)


# --- the pages on an import ---------------------------------------------------------------------


def test_dashboard_shows_the_imports_totals_days_products_and_quality(import_env):
    expected = totals(import_env)
    s = expected["summary"]
    at = on_import()
    c = cards(at)
    assert c["Total units sold"].value == fmt.count(expected["units"])
    assert c["Total revenue"].value == fmt.money(expected["revenue"])
    # the export names its orders: distinct orders of the sales lines, as the import counted them
    ((orders,),) = query(
        import_env,
        f"SELECT count(DISTINCT order_id) FROM import_{IMPORTED}.order_lines WHERE kind = 'sale'",  # noqa: S608
    )
    assert s["orders"] == orders > 0
    assert c["Orders"].value == fmt.count(orders)
    assert c["Products"].value == "3"
    assert c["Period"].value == "14 days"
    assert expected["revenue"] == pytest.approx(s["revenue"])  # the import reconciles
    # per day: 14 days of units and revenue, as the import's daily table sums them
    daily = query(import_env, "SELECT day, sum(units), sum(revenue) FROM import_test_shop.daily"
                              " GROUP BY day ORDER BY day")  # fmt: skip
    fig = plotly_specs(at)[0]  # day by day, before the latest day's hours
    units, revenue = fig["data"][0], fig["data"][1]
    assert units["y"] == pytest.approx([float(u) for _, u, _ in daily]) and len(units["y"]) == 14
    assert revenue["y"] == pytest.approx([float(r) for _, _, r in daily])
    top = frame(at, "import_top")
    assert top["product_id"].tolist()[0] == "MUG" and set(top["product_id"]) == {"MUG", "TOWEL",
                                                                                   "LAMP"}  # fmt: skip
    assert top.set_index("product_id").loc["MUG", "returned_units"] == 1
    assert "**1 unit returned** in 1 return line" in texts(at)
    assert c["Lines read"].value == f"{s['lines_read']:,}"
    assert c["Rejected"].value == "2" and c["Returns"].value == "1"
    rejected = frame(at, "import_rejected").set_index("reason")["lines"].to_dict()
    assert rejected == {"duplicate line": 1, "zero price": 1}
    # the latest day from the shop's metric tables, in the import's schema: its cards, its hot
    # products; only what an order export has: nothing about views, cart adds, conversion, ratings
    last_day, last_units, last_revenue = daily[-1]
    assert c["Revenue"].value == fmt.money(float(last_revenue))
    assert c["Items sold"].value == fmt.count(float(last_units))
    headers = [h.value for h in at.subheader]
    assert headers.index("Day by day") < headers.index("The latest day") < headers.index(
        "Hot products"
    ) < headers.index("Top products of the period")  # fmt: skip
    sold = query(import_env, "SELECT product_id FROM import_test_shop.daily WHERE day = %s"
                             " AND units > 0", (last_day,))  # fmt: skip
    hot = [d.value for d in at.dataframe if "rank" in d.value.columns]
    assert len(hot) == 1 and set(hot[0]["product_id"]) == {p for (p,) in sold}
    assert "views" not in hot[0].columns and "conversion_rate" not in hot[0].columns
    shown = texts(at) + " ".join(c)
    for absent in ("Conversion", "Views", "Cart adds", "rating", "Next 24 hours"):
        assert absent not in shown


def test_an_import_s_pages_show_money_in_its_own_currency(import_env):
    """`profiteer import --currency GBP` keeps the currency in the import's summary: its pages
    say £, the simulated shop's stay in the default."""
    expected = totals(import_env)
    statement = ("UPDATE imports_raw.imports SET summary = summary || %s::jsonb"
                 " WHERE name = 'test_shop'")  # fmt: skip
    conn = psycopg2.connect(import_env.dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, ('{"currency": "GBP"}',))
        st.cache_data.clear()
        at = on_import()
        revenue = cards(at)["Total revenue"].value
        assert revenue.startswith("£") and revenue == "£" + fmt.money(expected["revenue"])[1:]
        assert fmt.currency_symbol() == "$"  # this thread never chose the import
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(statement, ('{"currency": null}',))
        conn.close()
        st.cache_data.clear()


def test_catalog_lists_the_imports_products_and_searches(import_env):
    products = query(import_env, "SELECT product_id, product_name, base_price, min_price, "
                                 "max_price, units FROM import_test_shop.products")  # fmt: skip
    at = on_import(page="views/catalog.py")
    table = frame(at, "catalog").set_index("product_id")
    assert set(table.index) == {"MUG", "TOWEL", "LAMP"}
    for pid, name, base, lo, hi, units in products:
        row = table.loc[pid]
        assert row["product_name"] == name
        assert (row["base_price"], row["min_price"], row["max_price"]) == (base, lo, hi)
        assert row["units"] == float(units)
    assert table.loc["MUG", ["min_price", "max_price"]].tolist() == [10, 12]
    assert "3 of 3 products in 2 categories" in texts(at)
    ok(at.text_input(key="catalog_search").input("towel").run())
    assert frame(at, "catalog")["product_id"].tolist() == ["TOWEL"]
    ok(at.text_input(key="catalog_search").input("").run())
    ok(at.multiselect(key="catalog_categories").set_value(["Home"]).run())
    assert frame(at, "catalog")["product_name"].tolist() == ["Desk Lamp"]


def advice_rows(url) -> pd.DataFrame:
    """price_advice as stored (admin login), by product."""
    rows = query(url, "SELECT product_id, base_price, best_price, units_per_day_at_base,"
                      " units_per_day_at_best, revenue_per_day_at_base,"
                      " revenue_per_day_at_current, revenue_per_day_at_best"
                      " FROM import_test_shop.price_advice WHERE status = 'advice'")  # fmt: skip
    columns = ["product_id", "base", "best", "units_base", "units_best", "revenue_base",
               "revenue_now", "revenue_best"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("product_id").astype(float)


def test_the_csv_is_every_product_s_stored_advice(import_env, download_files):
    import io

    at = on_import(page="views/recommendations.py")
    (button,) = at.get("download_button")
    served = pd.read_csv(io.BytesIO(download_files(button).content))
    stored = query(import_env, "SELECT product_id, status, best_price, guardrail, elasticity"
                               " FROM import_test_shop.price_advice ORDER BY product_id")  # fmt: skip
    assert list(served.columns) == list(advice_table.ADVICE_COLUMNS)
    got = served.sort_values("product_id")[["product_id", "status", "best_price", "guardrail",
                                            "elasticity"]]  # fmt: skip
    assert [
        tuple(r) for r in got.astype(object).where(got.notna(), None).itertuples(index=False)
    ] == [(p, st_, float(b) if b is not None else None, g, e) for p, st_, b, g, e in stored]


def test_recommendations_show_advice_evidence_and_too_little_data(import_env):
    stored = advice_rows(import_env)
    at = on_import(page="views/recommendations.py")
    c = cards(at)
    assert c["Out-of-sample RMSSE"].value == "0.80"
    assert c["Out-of-sample RMSSE"].delta == fmt.signed_percent((0.8 - 1.1) / 1.1 * 100)
    assert c["Poisson deviance"].value == "0.60"
    assert c["Poisson deviance"].delta == fmt.signed_percent((0.6 - 0.9) / 0.9 * 100)
    assert c["28-day mean (RMSSE)"].value == "1.10"
    assert "seasonal naive (same weekday last week): RMSSE 1.30" in c["28-day mean (RMSSE)"].help
    assert not at.warning  # the model beats the 28-day mean
    assert f"**Modelled**: {fmt.md_escape(SELECTION)}." in texts(at)  # every cap, on the page
    advice = frame(at, "advice").set_index("product_id")
    assert set(advice.index) == {"MUG", "TOWEL"}
    for pid in ("MUG", "TOWEL"):
        assert advice.loc[pid, "best_price"] == stored.loc[pid, "best"]
        assert advice.loc[pid, "best_price"] < advice.loc[pid, "base_price"]  # peak at 0.917
    assert advice.loc["MUG", "sale_hours"] == 40 and advice.loc["MUG", "price_points"] == 3
    assert advice.loc["MUG", "guardrail"] == "none"  # the stored guardrail, by name
    assert advice.loc["MUG", "current_price"] == advice.loc["MUG", "base_price"]
    # each product's own elasticity and its 90 % interval, as stored; the shop's pooled one
    for pid in ("MUG", "TOWEL"):
        e, lo, hi, _ = ELASTICITY[pid]
        got = advice.loc[pid, ["elasticity", "elasticity_low", "elasticity_high"]].tolist()
        assert got == [e, lo, hi]
    assert (
        "The shop's pooled price elasticity: **-1.25** (90 % interval -1.45 to -1.05), over the "
        "2 products" in texts(at)
    )
    gain = (stored["revenue_best"] - stored["revenue_now"]).sum()  # against today's prices
    assert c["Applying every best price"].value == f"+{fmt.money(gain)}/day"
    # each product's stored 90 % range of its gain, shown and summed
    low, high = (sum(gain_range(g)[i] for g in stored["revenue_best"] - stored["revenue_now"])
                 for i in (0, 1))  # fmt: skip
    assert c["Applying every best price"].delta == f"90 %: +{fmt.money(low)} to +{fmt.money(high)}"
    for pid in ("MUG", "TOWEL"):
        g = stored.loc[pid, "revenue_best"] - stored.loc[pid, "revenue_now"]
        assert advice.loc[pid, "gain_per_day"] == pytest.approx(g)
        got = advice.loc[pid, ["gain_per_day_low", "gain_per_day_high"]].tolist()
        assert got == pytest.approx(list(gain_range(g)))
    little = frame(at, "advice_too_little")
    assert little["product_id"].tolist() == ["LAMP"]
    assert little["note"].iloc[0].startswith("2 sale hours at 1 price")


def no_recommended_price(at: AppTest, reason: str) -> None:
    """The recommendations page advises nothing: no best price, no gain, and both products with
    a curve listed under "No price change advised" with `reason`."""
    assert not [d for d in at.dataframe if "best_price" in d.value.columns]
    assert "Applying every best price" not in cards(at)
    assert "No price change advised" in [h.value for h in at.subheader]
    assert "**No recommended price**" in " ".join(i.value for i in at.info)
    no_change = frame(at, "advice_no_change").set_index("product_id")
    assert set(no_change.index) == {"MUG", "TOWEL"}
    assert all(reason in note for note in no_change["note"]), no_change["note"].tolist()
    assert frame(at, "advice_too_little")["product_id"].tolist() == ["LAMP"]


def test_recommendations_advise_nothing_when_the_model_loses_to_the_baseline(import_env):
    """The rule: a model is only as good as the baseline it beats. The stored rows say `advice`
    (an older training's), the backtest says the model loses to the 28-day mean: no price."""
    statement = "UPDATE import_test_shop.model_evaluation SET beats_baseline = %s, model_rmsse = %s"
    conn = psycopg2.connect(import_env.dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, (False, 1.25))
        st.cache_data.clear()
        at = on_import(page="views/recommendations.py")
        warned = " ".join(w.value for w in at.warning)
        assert "does not beat the product's 28-day mean" in warned
        assert "no price change is advised" in warned and "hypothesis" not in warned
        assert "does NOT beat it" in "\n".join(c.value for c in at.sidebar.caption)
        reason = "RMSSE 1.250 against 1.100, Poisson deviance 0.600 against 0.900"
        no_recommended_price(at, reason)
        # the simulation shows the reason instead of a price, for every product with a curve
        ok(at.switch_page("views/simulation.py").run())
        product = at.selectbox(key="product")
        assert product.value == "MUG"
        (info,) = at.info
        assert info.value.startswith("**No price change advised** for Blue Mug")
        assert reason in info.value
        assert not at.get("plotly_chart") and not at.get("select_slider")
        assert "Best price" not in cards(at)
        ok(product.set_value("TOWEL").run())
        assert at.info[0].value.startswith("**No price change advised** for Tea Towel")
        with conn, conn.cursor() as cur:  # too short to hold a week out: no figures at all
            cur.execute(statement, (False, None))
        st.cache_data.clear()
        at = on_import(page="views/recommendations.py")
        assert "could not be evaluated" in " ".join(w.value for w in at.warning)
        no_recommended_price(at, "not evaluated")
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(statement, (True, EVALUATION["model_rmsse"]))
        conn.close()
        st.cache_data.clear()


@contextmanager
def advice_edited(url, statement: str, params: tuple):
    """price_advice with `statement` applied, as a later training could store it; the stored
    rows are put back afterwards, whatever the test found."""
    conn = psycopg2.connect(url.dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE import_test_shop.advice_backup AS"
                        " SELECT * FROM import_test_shop.price_advice")  # fmt: skip
            cur.execute(statement, params)
        st.cache_data.clear()
        yield
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM import_test_shop.price_advice")
            cur.execute("INSERT INTO import_test_shop.price_advice"
                        " SELECT * FROM import_test_shop.advice_backup")  # fmt: skip
            cur.execute("DROP TABLE import_test_shop.advice_backup")
        conn.close()
        st.cache_data.clear()


def test_a_product_with_no_change_advised_shows_the_reason_not_a_price(import_env):
    """A flat curve, as `import_forecast` stores it: status no_change, no best price, the reason;
    the model beats the baseline, so the other product keeps its advice."""
    reason = "Predicted sales do not fall with the price"
    flat = ("UPDATE import_test_shop.price_advice SET status = 'no_change', best_price = NULL,"
            " units_per_day_at_best = NULL, revenue_per_day_at_best = NULL,"
            " revenue_uplift_pct = NULL, note = %s, reason = 'curve_does_not_fall'"
            " WHERE product_id = 'TOWEL'")  # fmt: skip
    with advice_edited(import_env, flat, (reason + ".",)):
        at = on_import(page="views/recommendations.py")
        assert not at.warning
        assert frame(at, "advice")["product_id"].tolist() == ["MUG"]
        no_change = frame(at, "advice_no_change")
        assert no_change["product_id"].tolist() == ["TOWEL"]
        assert no_change["note"].iloc[0].startswith(reason)
        # the rule that kept it, by name, and the section's count by rule
        assert no_change["reason"].tolist() == ["the curve does not fall with the price"]
        assert "By reason: 1 the curve does not fall with the price." in texts(at)
        ok(at.switch_page("views/simulation.py").run())
        ok(at.selectbox(key="product").set_value("TOWEL").run())
        options = at.selectbox(key="product").options
        assert "Tea Towel · TOWEL · no change advised" in options
        (info,) = at.info
        assert (
            info.value.startswith("**No price change advised** for Tea Towel")
            and reason in info.value
        )
        assert not at.get("plotly_chart")


def test_price_curve_reads_the_demand_line_and_agrees_with_the_advice(import_env):
    """The slider reads the demand line fitted to the model's stepped points, as the advice does:
    at the base and the best price the cards show the advice's own figures."""
    from profiteer_pipeline.pricing.curves import smoothed

    mug = advice_rows(import_env).loc["MUG"]
    points = pd.DataFrame(
        query(import_env, "SELECT price, units_per_day FROM import_test_shop.price_curves"
                          " WHERE product_id = 'MUG' ORDER BY price"),
        columns=["price", "units_per_day"],
    ).astype(float)  # fmt: skip
    base, best, lo, hi = mug["base"], mug["best"], points["price"].min(), points["price"].max()
    at = on_import(page="views/simulation.py")
    assert at.selectbox(key="product").value == "MUG"  # the biggest gain first
    slider = at.select_slider(key="daily_price_MUG")
    assert float(slider.value) == base
    c = cards(at)
    assert c[f"Units/day at {fmt.money(base, exact=True)}"].value == f"{mug['units_base']:.2f}"
    assert c["Expected revenue/day"].value == fmt.money(mug["revenue_base"], exact=True)
    assert c["Best price, all day"].value == fmt.money(best, exact=True)
    ok(slider.set_value(best).run())
    c = cards(at)
    assert c[f"Units/day at {fmt.money(best, exact=True)}"].value == f"{mug['units_best']:.2f}"
    assert c["Expected revenue/day"].value == fmt.money(mug["revenue_best"], exact=True)
    between = round(lo + (hi - lo) / 60, 2)  # the slider's first step: between two grid points
    ok(at.select_slider(key="daily_price_MUG").set_value(between).run())
    line = smoothed(points.assign(product_id="MUG"))
    interp = float(np.interp(between, line["price"], line["fit_units"]))
    model = float(np.interp(between, points["price"], points["units_per_day"]))
    assert f"{interp:.2f}" != f"{model:.2f}"  # the line, not the model's steps
    assert cards(at)[f"Units/day at {fmt.money(between, exact=True)}"].value == f"{interp:.2f}"
    units_fig, revenue_fig = plotly_specs(at)
    assert units_fig["data"][0]["y"] == pytest.approx(points["units_per_day"].tolist())  # model
    assert units_fig["data"][1]["y"] == pytest.approx(line["fit_units"].tolist())  # the line
    # the observed days, from the export itself: the mug's units per day at each day's price
    lines = pd.read_csv(io.StringIO(order_export())).drop_duplicates()
    mug_days = (
        lines[(lines["product_id"] == "MUG") & (lines["quantity"] > 0)]
        .groupby(lines["timestamp"].str[:10])
        .agg(units=("quantity", "sum"), price=("price", "first"))
    )
    per_price = mug_days.groupby("price")["units"].mean()
    for fig, y in ((units_fig, per_price), (revenue_fig, per_price * per_price.index)):
        seen = fig["data"][-1]
        assert seen["name"].startswith("observed") and seen["x"] == [10.0, 11.0, 12.0]
        assert seen["y"] == pytest.approx(y.tolist())
    star = revenue_fig["data"][2]
    assert star["x"] == [best] and star["marker"]["symbol"] == "star"
    assert star["y"] == [pytest.approx(mug["revenue_best"])]
    e, lo, hi, _ = ELASTICITY["MUG"]
    assert f"**Elasticity {e:.2f}** (90 % interval {lo:.2f} to {hi:.2f})" in texts(at)
    assert "**Guardrail**: none (the best price is the curve's own" in texts(at)
    move = mug["revenue_best"] - mug["revenue_now"]
    low, high = gain_range(move)
    assert (
        f"**Gain of the move**: +{fmt.money(move)} revenue per day from today's price (90 %: "
        f"+{fmt.money(low)} to +{fmt.money(high)}, if the elasticity" in texts(at)
    )


def test_with_unit_costs_the_pages_say_they_maximize_profit(import_env):
    """`profiteer costs` then a training store the cost and profit: the table and the simulation
    show them and say which objective the best price maximizes."""
    conn = psycopg2.connect(import_env.dsn())
    update = ("UPDATE import_test_shop.price_advice SET unit_cost = %s, objective = %s,"
              " profit_per_day_at_best = %s, profit_per_day_at_current = %s"
              " WHERE product_id = 'MUG'")  # fmt: skip
    try:
        with conn, conn.cursor() as cur:
            cur.execute(update, (2.5, "profit", 12.34, 10.0))
        st.cache_data.clear()
        at = on_import(page="views/recommendations.py")
        advice = frame(at, "advice").set_index("product_id")
        assert advice.loc["MUG", "objective"] == "profit" and advice.loc["MUG", "unit_cost"] == 2.5
        assert advice.loc["MUG", "profit_per_day_at_best"] == 12.34
        assert advice.loc["TOWEL", "objective"] == "revenue"
        assert pd.isna(advice.loc["TOWEL", "unit_cost"])
        at = on_import(page="views/simulation.py")
        assert at.selectbox(key="product").value == "MUG"
        assert (
            f"**Maximizes profit**: unit cost {fmt.money(2.5, exact=True)}; "
            f"{fmt.money(12.34, exact=True)} profit per day" in texts(at)
        )
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(update, (None, "revenue", None, None))
        conn.close()
        st.cache_data.clear()


def test_non_merchandise_is_listed_apart_and_never_priced(import_env):
    """A product `import_forecast` excluded (postage, fees) has its own section and no price."""
    note = "Not priced: not merchandise (postage); its sales still count in the totals."
    excluded = ("UPDATE import_test_shop.price_advice SET status = 'excluded', note = %s,"
                " elasticity = NULL, elasticity_low = NULL, elasticity_high = NULL,"
                " elasticity_source = NULL WHERE product_id = 'LAMP'")  # fmt: skip
    with advice_edited(import_env, excluded, (note,)):
        at = on_import(page="views/recommendations.py")
        assert "Not merchandise" in [h.value for h in at.subheader]
        excluded = frame(at, "advice_excluded")
        assert excluded["product_id"].tolist() == ["LAMP"]
        assert excluded["note"].tolist() == [note]
        assert "LAMP" not in set(frame(at, "advice")["product_id"])
        ok(at.switch_page("views/simulation.py").run())
        options = at.selectbox(key="product").options
        assert any(o.endswith("LAMP · not merchandise") for o in options), options
        ok(at.selectbox(key="product").set_value("LAMP").run())
        assert at.info[0].value == fmt.md_escape(note)
        assert not at.get("plotly_chart")


def test_a_product_without_a_category_shows_a_dash(import_env):
    no_category = "UPDATE import_test_shop.price_advice SET category = %s WHERE product_id = 'MUG'"
    with advice_edited(import_env, no_category, (None,)):
        at = on_import(page="views/recommendations.py")
        advice = frame(at, "advice").set_index("product_id")
        assert advice.loc["MUG", "category"] == "—"
        assert advice.loc["TOWEL", "category"] not in (None, "—", "None")


def test_a_product_with_too_little_data_says_so(import_env):
    at = on_import(page="views/simulation.py")
    ok(at.selectbox(key="product").set_value("LAMP").run())
    assert "Too little data for a price curve" in at.info[0].value
    assert "2 sale hours at 1 price" in at.info[0].value
    assert not at.get("plotly_chart")


def test_an_import_without_a_model_shows_its_data_and_says_the_model_is_coming(import_env):
    (summary,) = query(import_env, "SELECT summary FROM imports_raw.imports WHERE name = %s",
                       (FRESH,))[0]  # fmt: skip
    at = on_import(FRESH)
    c = cards(at)
    assert c["Products"].value == str(summary["products"])
    assert c["Total units sold"].value == fmt.count(summary["units"])
    assert ":orange[●] Model: not trained yet" in [m.value for m in at.sidebar.markdown]
    for page in ("views/recommendations.py", "views/simulation.py"):
        ok(at.switch_page(page).run())
        (info,) = at.info
        assert "has not been trained yet" in info.value and "import_forecast" in info.value
    ok(at.switch_page("views/catalog.py").run())
    table = frame(at, "catalog")
    assert set(table["product_id"]) == {"MUG-BLUE", "MUG-RED", "TOWEL-1"}
    assert "category" not in table.columns  # the file had no category: no empty column


def test_a_warehouse_outage_keeps_the_chosen_import(import_env, monkeypatch):
    """The list cannot be read: the link's import stays chosen and its pages show the outage."""
    port = closed_port()
    monkeypatch.setenv("PROFITEER_DATABASE_URL", f"postgresql://postgres:pw@127.0.0.1:{port}/x")
    monkeypatch.setenv("PROFITEER_PG_PORT", str(port))
    st.cache_data.clear()
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.query_params["source"] = IMPORTED
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key="source").value == IMPORTED
    (banner,) = at.error
    assert banner.value.startswith("**Warehouse unreachable**")
    assert ":red[●] Import unavailable" in [m.value for m in at.sidebar.markdown]


# --- the pure helpers ---------------------------------------------------------------------------


def test_catalog_search_by_name_or_sku_any_case_and_category():
    from profiteer_app.catalog_data import search

    products = pd.DataFrame({"product_id": ["MUG-1", "TOWEL", "X9"],
                             "product_name": ["Blue Mug", "Tea Towel", None],
                             "category": ["Kitchen", "Kitchen", None]})  # fmt: skip
    assert search(products, "mug", None)["product_id"].tolist() == ["MUG-1"]
    assert search(products, " x9 ", None)["product_id"].tolist() == ["X9"]  # by SKU, trimmed
    assert search(products, "", ["Kitchen"])["product_id"].tolist() == ["MUG-1", "TOWEL"]
    assert search(products, "towel", ["Kitchen"])["product_id"].tolist() == ["TOWEL"]
    assert search(products, "[", None).empty  # the text is not a pattern


def test_period_counts_calendar_days_in_utc():
    from profiteer_app.file_view import period

    first, last, days = period({"first_hour": "2025-03-01T23:00:00+00:00",
                                "last_hour": "2025-03-02T00:00:00+00:00"})  # fmt: skip
    assert days == 2 and first.hour == 23 and last.day == 2
    assert period({}) == (None, None, 0)


def test_curve_interpolation_and_slider_steps():
    from profiteer_app import advice_data as data
    from profiteer_app.daily_simulation import slider_prices

    curve = pd.DataFrame({"price": [10.0, 12.0], "units_per_day": [8.0, 4.0]})
    assert data.units_and_revenue_at(curve, 11.0) == (6.0, 66.0)
    assert data.units_and_revenue_at(curve, 9.0) == (8.0, 72.0)  # flat outside the curve
    steps = slider_prices(10.0, 12.0, [11.11, 13.0, None])
    assert steps[0] == 10.0 and steps[-1] == 12.0 and 11.11 in steps and 13.0 not in steps


def test_queries_name_the_schema_as_an_identifier(warehouse_conn):
    from profiteer_app import file_data as data

    query, params = data.top_query("my_shop")
    text = query.as_string(warehouse_conn)
    assert '"import_my_shop"."products"' in text and '"import_my_shop"."daily"' in text
    assert params == {"top": data.TOP_PRODUCTS}
    with pytest.raises(Exception, match="not valid"):  # the pipeline's own rule for names
        data.top_query('x"; DROP TABLE y; --')
