"""The app's pages under Streamlit's AppTest, on the real embedded PostgreSQL with generated data.

The expected figures are read from the metric tables with the admin login, independently of the
app's read-only queries. Model-backed tests (the simulation) are in test_app_simulation.py.
"""

from __future__ import annotations

import pytest
from app_fixtures import HOME, closed_port, plotly_specs, query
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


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    )
    return "\n".join(parts)


def test_dashboard_cards_compare_like_with_like(app_env):
    """The latest day is half full: its 12 hours so far against the same 12 hours the day before."""
    (hours, top) = query(
        app_env, "SELECT hours, top_category FROM analytics.dashboard_summary WHERE is_latest"
    )[0]
    assert hours == 12  # the fixture's latest day is half full
    same_hours = """
        WITH latest AS (SELECT max(day) AS d FROM analytics.daily_product_sales),
        h AS (SELECT (hour AT TIME ZONE 'UTC')::date AS day,
                     extract(hour FROM hour AT TIME ZONE 'UTC') AS hod, * FROM analytics.hourly_sales)
        SELECT sum(revenue_cents) / 100.0, sum(purchases), sum(purchases)::float8 / sum(views) * 100
        FROM h, latest WHERE h.day = latest.d - %s
          AND h.hod IN (SELECT hod FROM h, latest WHERE h.day = latest.d)"""
    today = [float(v) for v in query(app_env, same_hours, (0,))[0]]
    before = [float(v) for v in query(app_env, same_hours, (1,))[0]]
    change = [fmt.signed_percent((t - b) / b * 100) for t, b in zip(today, before, strict=True)]

    at = run_page()
    cards = {m.label: m for m in at.metric}
    assert cards["Revenue so far"].value == fmt.money(today[0])
    assert cards["Revenue so far"].delta == change[0]
    assert cards["Items sold so far"].value == fmt.count(today[1])
    assert cards["Items sold so far"].delta == change[1]
    assert cards["Conversion rate"].value == fmt.percent(today[2], 2)
    assert cards["Conversion rate"].delta == change[2]
    assert cards["Top category"].value == top
    text = all_text(at)
    assert "**today so far**: 12 hours (00:00–11:59 UTC)" in text
    assert "against **the same hours yesterday**" in text
    # no warehouse banner; the sidebar says how fresh the data is
    assert not at.error
    assert ":green[●] Data refreshed" in "\n".join(m.value for m in at.sidebar.markdown)


def test_dashboard_hourly_small_multiples_from_zero(app_env):
    at = run_page()
    (spec,) = [s for s in plotly_specs(at) if "Hour by hour" in s["layout"]["title"]["text"]]
    names = [t["name"] for t in spec["data"]]
    assert names == ["Views, day before", "Views", "Cart adds, day before", "Cart adds",
                     "Purchases, day before", "Purchases"]  # fmt: skip
    hours = query(app_env, "SELECT hour_of_day, purchases FROM analytics.hourly_totals ORDER BY 1")
    purchases = next(t for t in spec["data"] if t["name"] == "Purchases")
    assert list(zip(purchases["x"], purchases["y"], strict=True)) == [tuple(h) for h in hours]
    # one y-axis per series, each from zero; none overlays another
    axes = {k: v for k, v in spec["layout"].items() if k.startswith("yaxis")}
    assert len(axes) == 3 and all(a["range"][0] == 0 for a in axes.values())
    assert not any("overlaying" in a for a in axes.values())

    at.get("button_group")[0].set_value(["purchases"]).run()
    assert not at.exception
    (spec,) = [s for s in plotly_specs(at) if "Hour by hour" in s["layout"]["title"]["text"]]
    assert [t["name"] for t in spec["data"]] == ["Purchases, day before", "Purchases"]

    at.get("button_group")[0].set_value([]).run()
    assert not [s for s in plotly_specs(at) if "Hour by hour" in s["layout"]["title"]["text"]]
    assert "Pick at least one series" in all_text(at)


def test_dashboard_top_categories_and_hot_products(app_env):
    at = run_page()
    # the latest day is partial: the cards show the last complete day against the one before
    expected = query(
        app_env,
        "SELECT category, revenue, revenue_change_pct FROM analytics.category_revenue"
        " WHERE day = (SELECT max(day) - 1 FROM analytics.category_revenue) ORDER BY revenue DESC",
    )
    trends = dict(
        query(
            app_env,
            "SELECT category, array_agg(revenue ORDER BY day) FROM analytics.category_revenue"
            " WHERE day < (SELECT max(day) FROM analytics.category_revenue) GROUP BY category",
        )
    )
    cards = [m for m in at.metric if m.label.startswith("#")]
    assert [m.label for m in cards] == [f"#{i + 1} {c}" for i, (c, _, _) in enumerate(expected)]
    for card, (category, revenue, change) in zip(cards, expected, strict=True):
        assert card.value == fmt.money(revenue)
        assert card.delta == fmt.signed_percent(change)
        assert list(card.proto.chart_data) == pytest.approx(trends[category])  # complete days
        assert len(card.proto.chart_data) == 3
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
    assert len([b for b in at.button if b.key.startswith("simulate_")]) == 15


# --- outages: a banner, no traceback, and the rest of the page still works -------------------

PAGES = [None, "views/catalog.py", "views/simulation.py", "views/recommendations.py"]
TITLES = {
    None: "Dashboard",
    "views/catalog.py": "Catalog",
    "views/simulation.py": "Price simulation",
    "views/recommendations.py": "Price recommendations",
}


def test_mindsdb_unreachable_sidebar(app_env):
    """app_env points MINDSDB_URL at a closed port: the sidebar says so, and no page asks the
    model on load (the simulation reads stored curves: test_app_recommendations.py)."""
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT)
    at.session_state["product"] = "P003"
    at.session_state["bucket"] = "Afternoon"
    at.run()
    assert ":red[●] MindsDB unreachable" in [m.value for m in at.sidebar.markdown]
    assert not at.error and not at.warning  # the dashboard needs no model
    at.switch_page("views/simulation.py").run()
    assert not at.exception
    assert not at.warning and not at.error  # no model call, so no MindsDB banner
    assert [t.value for t in at.title] == ["Price simulation"]


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
        # the model's pages: no model yet (its results are missing); the others: no metrics
        model_pages = ("views/simulation.py", "views/recommendations.py")
        want = "**No model yet**" if page in model_pages else "**No metrics yet**"
        assert banner.value.startswith(want), banner.value


def test_bad_model_name_is_a_banner_not_a_traceback(app_env, monkeypatch):
    monkeypatch.setenv("PROFITEER_MODEL", "mindsdb.sales; DROP MODEL x")
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    assert ":red[●] Model unavailable" in [m.value for m in at.sidebar.markdown]
    at.switch_page("views/simulation.py").run()
    assert not at.exception and not at.error  # the page itself never asks the model on load
