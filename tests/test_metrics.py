"""The metric tables on the real embedded PostgreSQL: values against pandas, incremental vs full.

Each test works in its own database (created here on the session server), so `sales` and the
`analytics` schema are not shared with other test modules.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
from metrics_fixtures import private_database
from psycopg2 import sql

from profiteer_app import warehouse as app_wh
from profiteer_pipeline.defs.metrics import assets as metric_assets
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.warehouse import metrics as m
from profiteer_pipeline.warehouse.io import copy_dataframe, replace_window

START = datetime(2026, 3, 1, tzinfo=UTC)
HOURS = 60  # two full UTC days and half of a third: the latest day is partial


DB = "profiteer_metrics_test"


@pytest.fixture(scope="module")
def metrics_dsn(settings) -> str:
    """A private database on the session server, with `sales` and the metric tables."""
    return private_database(settings, DB)


@pytest.fixture
def conn(metrics_dsn):
    conn = psycopg2.connect(metrics_dsn)
    m.ensure_metric_tables(conn)
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE public.sales, " + ", ".join(f"analytics.{t}" for t in m.TABLES))
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def sales_df() -> pd.DataFrame:
    return generate_window(load_default_catalog(), START, START + timedelta(hours=HOURS))


def load(conn, df: pd.DataFrame) -> None:
    with conn:
        copy_dataframe(conn, "sales", df)


def read(conn, table: str, order: str) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM analytics.{table} ORDER BY {order}")  # noqa: S608
        out = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    conn.rollback()
    return out


def expected_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["revenue"] = out["current_price"] * out["purchases"]
    out["day"] = out["timestamp"].dt.tz_convert("UTC").dt.date
    return out


def test_dashboard_summary_matches_pandas(conn, sales_df):
    load(conn, sales_df)
    stats = m.refresh_metrics(conn)
    e = expected_frame(sales_df)
    per_day = e.groupby("day").agg(
        revenue=("revenue", "sum"),
        items=("purchases", "sum"),
        views=("views", "sum"),
        hours=("timestamp", "nunique"),
    )
    per_day["conv"] = per_day["items"] / per_day["views"] * 100
    latest, previous, before = per_day.index[-1], per_day.index[-2], per_day.index[-3]
    assert stats.latest_day == latest

    got = read(conn, "dashboard_summary", "day").set_index("day")
    assert list(got.index) == [previous, latest]
    assert got.loc[latest, "is_latest"] and not got.loc[previous, "is_latest"]
    for day, prev in [(latest, previous), (previous, before)]:
        row, want, base = got.loc[day], per_day.loc[day], per_day.loc[prev]
        assert row["hours"] == want["hours"]
        assert row["revenue"] == pytest.approx(want["revenue"], abs=0.005)
        assert row["items_sold"] == want["items"]
        assert row["views"] == want["views"]
        assert row["conversion_rate"] == pytest.approx(want["conv"], rel=1e-9)
        assert row["revenue_change_pct"] == pytest.approx(
            (want["revenue"] - base["revenue"]) / base["revenue"] * 100, rel=1e-9
        )
        assert row["items_sold_change_pct"] == pytest.approx(
            (want["items"] - base["items"]) / base["items"] * 100, rel=1e-9
        )
        assert row["conversion_rate_change_pct"] == pytest.approx(
            (want["conv"] - base["conv"]) / base["conv"] * 100, rel=1e-9
        )
        cats = e[e["day"] == day].groupby("category")["revenue"].sum()
        assert row["top_category"] == cats.idxmax()
        assert row["top_category_revenue"] == pytest.approx(cats.max(), abs=0.005)
    assert got.loc[latest, "hours"] == 12  # the partial latest day


def test_hourly_totals_category_revenue_and_hot_products(conn, sales_df):
    load(conn, sales_df)
    m.refresh_metrics(conn)
    e = expected_frame(sales_df)
    latest = e["day"].max()

    hourly = read(conn, "hourly_totals", "hour")
    want = (
        e[e["day"] == latest]
        .groupby("timestamp")[["views", "cart_adds", "purchases", "revenue"]]
        .sum()
    )
    assert len(hourly) == 12
    assert list(hourly["hour"]) == [t.to_pydatetime() for t in want.index]
    assert list(hourly["hour_of_day"]) == list(range(12))
    assert list(hourly["purchases"]) == list(want["purchases"])
    assert list(hourly["views"]) == list(want["views"])
    assert list(hourly["cart_adds"]) == list(want["cart_adds"])
    assert hourly["revenue"].tolist() == pytest.approx(want["revenue"].tolist(), abs=0.005)
    assert list(hourly["products"]) == [15] * 12

    cat = read(conn, "category_revenue", "day, category")
    want = e.groupby(["day", "category"])["revenue"].sum().unstack()
    assert len(cat) == want.size == 9
    for row in cat.itertuples():
        assert row.revenue == pytest.approx(want.loc[row.day, row.category], abs=0.005)
        prev_day = row.day - timedelta(days=1)
        if prev_day in want.index:
            prev = want.loc[prev_day, row.category]
            assert row.previous_revenue == pytest.approx(prev, abs=0.005)
            assert row.has_increased == (want.loc[row.day, row.category] > prev)
            assert row.revenue_change_pct == pytest.approx(
                (want.loc[row.day, row.category] - prev) / prev * 100, rel=1e-9
            )
        else:
            assert pd.isna(row.previous_revenue) and pd.isna(row.revenue_change_pct)
            assert not row.has_increased
    # the partial latest day earns less than the full day before: a known answer by hand
    assert not cat[cat["day"] == latest]["has_increased"].any()

    hot = read(conn, "hot_products", "rank")
    day = (
        e[e["day"] == latest]
        .groupby("product_id")
        .agg(purchases=("purchases", "sum"), revenue=("revenue", "sum"))
    )
    day = day.reset_index().sort_values(
        ["purchases", "revenue", "product_id"], ascending=[False, False, True]
    )
    assert list(hot["rank"]) == list(range(1, 11))
    assert list(hot["product_id"]) == list(day["product_id"][:10])
    assert list(hot["purchases"]) == list(day["purchases"][:10])
    assert hot["revenue"].tolist() == pytest.approx(day["revenue"][:10].tolist(), abs=0.005)
    catalog = {p.product_id: p for p in load_default_catalog()}
    first = hot.iloc[0]
    assert first["product_name"] == catalog[first["product_id"]].product_name
    assert first["product_image"] == catalog[first["product_id"]].product_image
    assert first["category"] == catalog[first["product_id"]].category


def test_product_stats_and_bucket_averages(conn, sales_df):
    load(conn, sales_df)
    m.refresh_metrics(conn)
    e = expected_frame(sales_df)
    latest = e["day"].max()

    stats = read(conn, "product_stats", "product_id").set_index("product_id")
    g = e.groupby("product_id")
    assert list(stats.index) == sorted(e["product_id"].unique())
    assert stats["hours"].tolist() == [HOURS] * 15
    assert stats["total_purchases"].tolist() == g["purchases"].sum().tolist()
    assert stats["total_views"].tolist() == g["views"].sum().tolist()
    assert stats["total_cart_adds"].tolist() == g["cart_adds"].sum().tolist()
    assert stats["total_revenue"].tolist() == pytest.approx(g["revenue"].sum().tolist(), abs=0.005)
    assert stats["avg_rating"].tolist() == pytest.approx(g["rating"].mean().tolist(), rel=1e-12)
    assert stats["avg_price"].tolist() == pytest.approx(
        g["current_price"].mean().tolist(), rel=1e-12
    )
    last = e.sort_values("timestamp").groupby("product_id").last()
    assert stats["latest_rating"].tolist() == last["rating"].tolist()
    assert (stats["latest_hour"] == START + timedelta(hours=HOURS - 1)).all()
    today = e[e["day"] == latest].groupby("product_id")
    assert stats["latest_day_revenue"].tolist() == pytest.approx(
        today["revenue"].sum().tolist(), abs=0.005
    )
    assert stats["latest_day_purchases"].tolist() == today["purchases"].sum().tolist()
    assert (stats["latest_day"] == latest).all()

    avg = read(conn, "avg_purchases_by_bucket", "product_id, time_of_day_bucket")
    want = (
        e.groupby(["product_id", "time_of_day_bucket"])
        .agg(
            hours=("views", "size"),
            v=("views", "mean"),
            c=("cart_adds", "mean"),
            p=("purchases", "mean"),
            r=("rating", "mean"),
        )
        .reset_index()
        .sort_values(["product_id", "time_of_day_bucket"])
    )
    assert len(avg) == 15 * 4
    assert avg["hours"].tolist() == want["hours"].tolist()
    assert avg["avg_purchases"].tolist() == pytest.approx(want["p"].tolist(), rel=1e-12)
    assert avg["avg_views"].tolist() == pytest.approx(want["v"].tolist(), rel=1e-12)
    assert avg["avg_cart_adds"].tolist() == pytest.approx(want["c"].tolist(), rel=1e-12)
    assert avg["avg_rating"].tolist() == pytest.approx(want["r"].tolist(), rel=1e-12)
    assert_popularity_is_the_mean(avg, sales_df)


def assert_popularity_is_the_mean(avg: pd.DataFrame, sales: pd.DataFrame) -> None:
    """`avg_popularity_factor` = the mean of `sales.popularity_factor` per product and bucket."""
    want = sales.groupby(["product_id", "time_of_day_bucket"])["popularity_factor"].mean()
    got = avg.set_index(["product_id", "time_of_day_bucket"])["avg_popularity_factor"]
    assert got.index.tolist() == want.index.tolist()
    assert got.tolist() == pytest.approx(want.tolist(), rel=1e-12)
    assert got.nunique() > 10  # not a constant


def snapshot(conn) -> dict[str, pd.DataFrame]:
    """Every metric table without the refresh timestamp, in key order."""
    out = {}
    for table in m.METRIC_TABLES:
        df = read(conn, table, ", ".join(m.TABLES[table].key))
        out[table] = df.drop(columns=["updated_at"], errors="ignore")
    return out


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for table in m.METRIC_TABLES:
        pd.testing.assert_frame_equal(a[table], b[table], check_exact=True, obj=table)


def test_incremental_hour_by_hour_equals_full_rebuild(conn, sales_df):
    hours = sorted(sales_df["timestamp"].unique())
    # partitions arrive out of order, as a backfill and the schedule would interleave them
    order = hours[30:] + hours[:30]
    for ts in order:
        t = pd.Timestamp(ts).to_pydatetime()
        replace_window(
            conn, "sales", sales_df[sales_df["timestamp"] == ts], t, t + timedelta(hours=1)
        )
        m.refresh_metrics(conn, t, t + timedelta(hours=1))
    incremental = snapshot(conn)
    assert len(incremental["daily_product_sales"]) > 0

    # a re-materialized old hour with different numbers, then a deleted hour
    old = pd.Timestamp(hours[5]).to_pydatetime()
    changed = sales_df[sales_df["timestamp"] == hours[5]].copy()
    changed["purchases"] = changed["purchases"] + 7
    changed["popularity_factor"] = changed["popularity_factor"] + 0.25
    replace_window(conn, "sales", changed, old, old + timedelta(hours=1))
    m.refresh_metrics(conn, old, old + timedelta(hours=1))
    gone = pd.Timestamp(hours[40]).to_pydatetime()
    replace_window(conn, "sales", sales_df.iloc[:0], gone, gone + timedelta(hours=1))
    m.refresh_metrics(conn, gone, gone + timedelta(hours=1))
    after_changes = snapshot(conn)
    assert after_changes["hourly_sales"]["purchases"].sum() == (
        incremental["hourly_sales"]["purchases"].sum()
        + 7 * 15
        - sales_df[sales_df["timestamp"] == hours[40]]["purchases"].sum()
    )

    now = pd.concat([sales_df[~sales_df["timestamp"].isin([hours[5], hours[40]])], changed])
    assert_popularity_is_the_mean(after_changes["avg_purchases_by_bucket"], now)

    full = m.refresh_metrics(conn)
    assert full.mode == "full"
    assert_same(after_changes, snapshot(conn))
    assert_popularity_is_the_mean(snapshot(conn)["avg_purchases_by_bucket"], now)


def test_range_refresh_equals_full_and_logs(conn, sales_df):
    load(conn, sales_df)
    stats = m.refresh_metrics(conn, START + timedelta(hours=20), START + timedelta(hours=50))
    assert stats.mode == "incremental"
    # hours 20..49 touch the three days, so the whole table is covered
    assert stats.window_start == START and stats.window_end == START + timedelta(days=3)
    assert stats.sales_rows == len(sales_df)
    ranged = snapshot(conn)
    m.refresh_metrics(conn)
    assert_same(ranged, snapshot(conn))

    log = read(conn, "refresh_log", "id")
    assert list(log["mode"]) == ["incremental", "full"]
    assert (log["latest_hour"] == START + timedelta(hours=HOURS - 1)).all()
    assert (log["sales_rows"] == len(sales_df)).all()


def test_empty_sales_gives_empty_metrics(conn):
    stats = m.refresh_metrics(conn)
    assert stats.latest_day is None and stats.sales_rows == 0
    assert all(n == 0 for t, n in m.table_counts(conn, m.APP_TABLES).items())


def test_bad_window_is_refused_and_changes_nothing(conn, sales_df):
    load(conn, sales_df)
    m.refresh_metrics(conn)
    before = snapshot(conn)
    with pytest.raises(ValueError, match="not after"):
        m.refresh_metrics(conn, START + timedelta(hours=5), START + timedelta(hours=5))
    with pytest.raises(ValueError, match="both start and end"):
        m.refresh_metrics(conn, START, None)
    assert_same(before, snapshot(conn))


def test_day_window():
    assert m.day_window(START + timedelta(hours=23), START + timedelta(hours=24)) == (
        START.date(),
        START.date() + timedelta(days=1),
    )
    assert m.day_window(START + timedelta(hours=23), START + timedelta(hours=25)) == (
        START.date(),
        START.date() + timedelta(days=2),
    )


# --- one declaration per table: everything else follows from it --------------------------------


def table_columns(conn, table: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name::text FROM information_schema.columns"
            " WHERE table_schema = 'analytics' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        out = [r[0] for r in cur.fetchall()]
    conn.rollback()
    return out


def test_the_tables_are_as_declared(conn):
    for name, table in m.TABLES.items():
        assert table_columns(conn, name) == table.column_names, name
        spec = metric_assets.spec(table)
        schema = spec.metadata["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == [
            (c.name, c.type) for c in table.columns
        ]
    with conn.cursor() as cur:  # the keys too
        cur.execute(
            "SELECT c.relname::text, array_agg(a.attname::text ORDER BY k.i)"
            " FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'analytics'"
            " CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i)"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
            " WHERE x.indisprimary GROUP BY 1"
        )
        keys = dict(cur.fetchall())
    conn.rollback()
    assert keys == {name: list(t.key) for name, t in m.TABLES.items()}


def test_a_column_added_in_its_declaration_reaches_table_refresh_asset_and_app(
    conn, sales_df, settings, monkeypatch
):
    """One `Column` (with its SQL) added to `hot_products` in a copy of the declaration: the
    layout is recreated, the refresh fills it, the asset's schema and preview and the app's
    dashboard read show it, with the value pandas computes."""
    hot = m.TABLES["hot_products"]
    added = m.Column(
        "avg_price", "double precision NOT NULL",
        "(sum(d.price_cents_sum) / 100.0 / sum(d.hours))::float8", "mean price that day",
    )  # fmt: skip
    changed = dataclasses.replace(hot, columns=(*hot.columns[:-1], added, hot.columns[-1]))
    monkeypatch.setitem(m.TABLES, "hot_products", changed)

    assert m.ensure_metric_tables(conn)  # the layout changed: recreated
    assert (
        table_columns(conn, "hot_products")
        == [*m.columns("hot_products")]
        == [*hot.column_names[:-1], "avg_price", "updated_at"]
    )
    load(conn, sales_df)
    m.refresh_metrics(conn)
    e = expected_frame(sales_df)
    today = e[e["day"] == e["day"].max()]
    want = today.groupby("product_id")["current_price"].mean()

    stored = read(conn, "hot_products", "rank")
    assert stored["avg_price"].tolist() == pytest.approx(
        want[stored["product_id"]].tolist(), abs=0.005
    )
    spec = metric_assets.spec(changed)
    assert "avg_price" in [c.name for c in spec.metadata["dagster/column_schema"].columns]
    preview = metric_assets._read(conn, "hot_products")
    conn.rollback()
    assert list(preview.columns) == changed.column_names
    # the app's dashboard read, as the page runs it
    app = app_wh.load_dashboard(app_wh.Warehouse(settings.warehouse.with_database(DB)))
    assert list(app.hot.columns) == changed.column_names
    assert app.hot["avg_price"].tolist() == stored["avg_price"].tolist()

    # the original declaration back: the next `ensure` drops the column it no longer declares
    # and keeps the rows, whose other columns are still right (nothing to rebuild)
    monkeypatch.undo()
    assert not m.ensure_metric_tables(conn)
    assert table_columns(conn, "hot_products") == hot.column_names
    kept = read(conn, "hot_products", "rank")
    assert kept["product_id"].tolist() == stored["product_id"].tolist()


def test_reads_name_only_declared_columns(conn):
    with pytest.raises(ValueError, match="no column 'nope'"):
        m.select_sql("hot_products", ["rank", "nope"])
    with pytest.raises(ValueError, match="bad order term"):
        m.select_sql("hot_products", order=["rank; DROP TABLE x"])
    with pytest.raises(ValueError, match="unknown metric table"):
        m.select_sql("sales")
    query = m.select_sql(
        "category_revenue", ["day", "revenue"], where=sql.SQL("revenue > %(x)s"),
        order=["day DESC"], limit=3,
    )  # fmt: skip
    assert query.as_string(conn) == (
        'SELECT "day", "revenue" FROM "analytics"."category_revenue" WHERE revenue > %(x)s'
        ' ORDER BY "day" DESC LIMIT 3'
    )


def test_a_declaration_is_checked():
    hot = m.TABLES["hot_products"]
    with pytest.raises(ValueError, match="key"):
        dataclasses.replace(hot, key=("nope",))
    with pytest.raises(ValueError, match="duplicate"):
        dataclasses.replace(hot, columns=(*hot.columns, hot.columns[0]))
    with pytest.raises(ValueError, match="upstream 'nope'"):
        m.registry.registry([dataclasses.replace(hot, upstream=("nope",))])
    assert isinstance(metric_assets.spec(hot), dg.AssetSpec)
