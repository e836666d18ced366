"""The app's pages under Streamlit's AppTest, on the real embedded PostgreSQL with generated data.

The expected figures are read from the metric tables with the admin login, independently of the
app's read-only queries. Model-backed tests (the simulation) are in test_app_simulation.py.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from app_fixtures import HOME, closed_port, query
from streamlit.testing.v1 import AppTest

from profiteer_app import formatting as fmt

pytest_plugins = ["app_fixtures"]

TIMEOUT = 30


def run_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _decode(value):
    """Plotly serializes numpy arrays as {"dtype", "bdata"} (base64): back to a list."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value


def plotly_specs(at: AppTest) -> list[dict]:
    """Each chart's figure, with its traces' x and y as plain lists."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    for spec in specs:
        for trace in spec["data"]:
            for axis in ("x", "y"):
                if axis in trace:
                    trace[axis] = _decode(trace[axis])
    return specs


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    )
    return "\n".join(parts)


def test_dashboard_cards_match_the_metric_tables(app_env):
    (latest,) = query(
        app_env,
        "SELECT revenue, items_sold, conversion_rate, revenue_change_pct, items_sold_change_pct,"
        " conversion_rate_change_pct, top_category, hours FROM analytics.dashboard_summary"
        " WHERE is_latest",
    )
    revenue, items, conversion, d_rev, d_items, d_conv, top, hours = latest
    assert hours == 12  # the fixture's latest day is half full

    at = run_page()
    cards = {m.label: m for m in at.metric}
    assert cards["Revenue"].value == fmt.money(revenue)
    assert cards["Revenue"].delta == fmt.signed_percent(d_rev)
    assert cards["Items sold"].value == fmt.count(items)
    assert cards["Items sold"].delta == fmt.signed_percent(d_items)
    assert cards["Conversion rate"].value == fmt.percent(conversion, 2)
    assert cards["Conversion rate"].delta == fmt.signed_percent(d_conv)
    assert cards["Top category"].value == top
    assert "12 of 24 hours so far; changes compare them with the whole day before" in all_text(at)
    # no warehouse banner; the sidebar says how fresh the data is
    assert not at.error
    assert ":green[●] Data refreshed" in "\n".join(m.value for m in at.sidebar.markdown)


def test_dashboard_hourly_chart_toggles_series(app_env):
    at = run_page()
    (spec,) = [s for s in plotly_specs(at) if "Hour by hour" in s["layout"]["title"]["text"]]
    assert [t["name"] for t in spec["data"]] == ["Views", "Cart adds", "Purchases"]
    hours = query(app_env, "SELECT hour_of_day, purchases FROM analytics.hourly_totals ORDER BY 1")
    purchases = next(t for t in spec["data"] if t["name"] == "Purchases")
    assert list(zip(purchases["x"], purchases["y"], strict=True)) == [tuple(h) for h in hours]

    at.get("button_group")[0].set_value(["purchases"]).run()
    assert not at.exception
    (spec,) = plotly_specs(at)
    assert [t["name"] for t in spec["data"]] == ["Purchases"]

    at.get("button_group")[0].set_value([]).run()
    assert not plotly_specs(at)
    assert "Pick at least one series" in all_text(at)


def test_dashboard_top_categories_and_hot_products(app_env):
    at = run_page()
    expected = query(
        app_env,
        "SELECT category, revenue, revenue_change_pct FROM analytics.category_revenue"
        " WHERE day = (SELECT max(day) FROM analytics.category_revenue) ORDER BY revenue DESC",
    )
    trends = dict(
        query(
            app_env,
            "SELECT category, array_agg(revenue ORDER BY day) FROM analytics.category_revenue"
            " GROUP BY category",
        )
    )
    cards = [m for m in at.metric if m.label.startswith("#")]
    assert [m.label for m in cards] == [f"#{i + 1} {c}" for i, (c, _, _) in enumerate(expected)]
    for card, (category, revenue, change) in zip(cards, expected, strict=True):
        assert card.value == fmt.money(revenue)
        assert card.delta == fmt.signed_percent(change)
        assert list(card.proto.chart_data) == pytest.approx(trends[category])  # 4 days' trend
        assert len(card.proto.chart_data) == 4
    (hot_table,) = at.dataframe
    hot = query(app_env, "SELECT product_id, purchases FROM analytics.hot_products ORDER BY rank")
    assert hot_table.value["product_id"].tolist() == [p for p, _ in hot]
    assert hot_table.value["purchases"].tolist() == [n for _, n in hot]


def test_catalog_groups_products_with_rating_colours(app_env):
    at = run_page("views/catalog.py")
    categories = [c for (c,) in query(app_env, "SELECT DISTINCT category FROM public.products")]
    assert sorted(h.value for h in at.subheader) == sorted(categories)
    stats = query(
        app_env,
        "SELECT p.product_id, p.product_name, s.avg_rating, s.latest_day_revenue"
        " FROM public.products p JOIN analytics.product_stats s USING (product_id)",
    )
    text = all_text(at)
    assert len(stats) == 15
    colours = set()
    for pid, name, rating, revenue in stats:
        colour = "green" if rating > 3.5 else "red"
        colours.add(colour)
        assert f"`{pid}` · :{colour}[★ {rating:.1f}]" in text
        assert f"**{fmt.md_escape(name)}**" in text
        assert f"{fmt.money(revenue)} latest day" in text
    # every picture is a placeholder-backed box (the catalog's image host is unreachable here)
    pictures = [m.value for m in at.markdown if 'role="img"' in m.value]
    assert len(pictures) == 15 and all("data:image/svg+xml" in p for p in pictures)
    assert len([b for b in at.button if b.label == "Simulate price"]) == 15


def test_catalog_opens_the_products_simulation(app_env):
    at = run_page("views/catalog.py")
    at.button(key="simulate_P007").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Price simulation"]
    assert at.selectbox(key="product").value == "P007"
    assert at.query_params["product"] == ["P007"] or at.query_params["product"] == "P007"
    (name, base) = query(app_env, "SELECT product_name, base_price FROM public.products"
                                  " WHERE product_id = 'P007'")[0]  # fmt: skip
    assert at.slider(key="price_P007").value == pytest.approx(base)


# --- outages: a banner, no traceback, and the rest of the page still works -------------------

PAGES = [None, "views/catalog.py", "views/simulation.py"]
TITLES = {
    None: "Dashboard",
    "views/catalog.py": "Catalog",
    "views/simulation.py": "Price simulation",
}


def test_mindsdb_unreachable_banner(app_env):
    """app_env points MINDSDB_URL at a closed port."""
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.session_state["product"] = "P003"
    at.session_state["bucket"] = "Afternoon"
    at.run()
    assert ":red[●] MindsDB unreachable" in [m.value for m in at.sidebar.markdown]
    assert not at.error and not at.warning  # the dashboard needs no model
    at.switch_page("views/simulation.py").run()
    assert not at.exception
    (banner,) = at.warning
    assert banner.value.startswith("**MindsDB unreachable** — predictions are unavailable")
    assert "cannot connect to MindsDB" in banner.value
    history = dict(
        query(
            app_env,
            "SELECT time_of_day_bucket, avg_purchases FROM analytics.avg_purchases_by_bucket"
            " WHERE product_id = 'P003'",
        )
    )
    cards = {m.label: m.value for m in at.metric}
    assert cards["Historical purchases/h, afternoon"] == f"{history['Afternoon']:.1f}"
    assert not at.get("plotly_chart")
    # the controls still work: the price slider, from the base price over the allowed range...
    lo, hi, base = query(
        app_env,
        "SELECT min_price::float, max_price::float, base_price::float FROM public.products"
        " WHERE product_id = 'P003'",
    )[0]
    slider = at.slider(key="price_P003")
    assert not slider.disabled
    assert (slider.min, slider.max, slider.value) == pytest.approx((lo, hi, base))
    slider.set_value(hi).run()
    assert not at.exception
    assert at.slider(key="price_P003").value == pytest.approx(hi)
    # ...and the time of day, which picks the history shown
    at.get("button_group")[0].set_value("Overnight").run()
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Historical purchases/h, overnight"] == f"{history['Overnight']:.1f}"
    assert at.slider(key="price_P003").value == pytest.approx(hi)
    (banner,) = at.warning  # still the banner, never a prediction
    assert banner.value.startswith("**MindsDB unreachable**")
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("page", PAGES)
def test_warehouse_unreachable_banner(app_env, monkeypatch, page):
    down = app_env.with_database(app_env.database)
    url = f"postgresql://postgres:secret-pw@127.0.0.1:{closed_port()}/{down.database}"
    monkeypatch.setenv("PROFITEER_DATABASE_URL", url)
    monkeypatch.setenv("PROFITEER_READER_PASSWORD", "reader-secret")
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    assert ":red[●] Warehouse unreachable" in [m.value for m in at.sidebar.markdown]
    if page:
        at.switch_page(page).run()
    assert not at.exception
    (banner,) = at.error
    assert banner.value.startswith("**Warehouse unreachable**: cannot connect to the warehouse")
    assert "profiteer_reader:***@127.0.0.1" in banner.value  # the read-only login, redacted
    assert "secret" not in all_text(at)
    assert [t.value for t in at.title] == [TITLES[page]]  # the page itself still renders


def test_no_metrics_yet_banner(app_env, monkeypatch, settings):
    from profiteer_app.sample_data import recreate_database

    empty = recreate_database(settings.warehouse, "profiteer_app_empty")
    monkeypatch.setenv("PROFITEER_DATABASE_URL", empty.dsn())
    for page in PAGES:
        at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
        assert ":orange[●] Data: not materialized yet" in [m.value for m in at.sidebar.markdown]
        if page:
            at.switch_page(page).run()
        assert not at.exception
        (banner,) = at.info
        assert banner.value.startswith("**No metrics yet**"), banner.value


def test_bad_model_name_is_a_banner_not_a_traceback(app_env, monkeypatch):
    monkeypatch.setenv("PROFITEER_MODEL", "mindsdb.sales; DROP MODEL x")
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    assert ":red[●] Model unavailable" in [m.value for m in at.sidebar.markdown]
    at.switch_page("views/simulation.py").run()
    assert not at.exception
    (banner,) = at.error
    assert "PROFITEER_MODEL part" in banner.value and "is not a valid name" in banner.value
    assert any(m.label.startswith("Historical purchases/h") for m in at.metric)
