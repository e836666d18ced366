"""Data-quality checks on the real embedded PostgreSQL: each passes on good rows and fails on a
deliberately broken one, naming the product, hour and field; blocking checks stop the metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
from metrics_fixtures import private_database, reset, resources, sales_asset
from psycopg2 import errors as pg_errors

from profiteer_app import features as app_features
from profiteer_app import warehouse as app_wh
from profiteer_pipeline.defs.ingest import checks
from profiteer_pipeline.defs.metrics import checks as metrics_checks
from profiteer_pipeline.defs.metrics.assets import analytics_metrics
from profiteer_pipeline.defs.model import checks as model_checks
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import features
from profiteer_pipeline.model.profile import PROFILE_COLUMNS, whatif_profile
from profiteer_pipeline.model.spec import FULL_FEATURES
from profiteer_pipeline.pricing import grid as pricing
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.warehouse import metrics as m
from profiteer_pipeline.warehouse import quality
from profiteer_pipeline.warehouse.io import copy_dataframe
from profiteer_pipeline.warehouse.products import products_frame, replace_products

DB = "profiteer_checks_test"
START = datetime(2026, 4, 1, 10, tzinfo=UTC)
END = START + timedelta(hours=3)
CATALOG = load_default_catalog()
IDS = [p.product_id for p in CATALOG]
RANGES = [(p.product_id, p.min_price, p.max_price) for p in CATALOG]
HOUR = START + timedelta(hours=1)  # the hour the broken row is in


@pytest.fixture(scope="module")
def dsn(settings) -> str:
    return private_database(settings, DB)


@pytest.fixture
def conn(dsn):
    reset(dsn)
    conn = psycopg2.connect(dsn)
    with conn:
        copy_dataframe(conn, "sales", generate_window(CATALOG, START, END))
    yield conn
    conn.close()


def execute(conn, statement: str, params=None) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(statement, params)


def breaks(conn, assignment: str, product: str = "P003") -> None:
    """Change one row: product `product` at HOUR."""
    with conn, conn.cursor() as cur:
        cur.execute(
            f'UPDATE public.sales SET {assignment} WHERE product_id = %s AND "timestamp" = %s',  # noqa: S608
            (product, HOUR),
        )
        assert cur.rowcount == 1


def test_good_rows_pass_every_rule(conn):
    assert quality.row_counts(conn, START, END, IDS).passed
    assert quality.null_values(conn, START, END).passed
    outcome = quality.value_ranges(conn, START, END, RANGES)
    assert outcome.passed, outcome.description
    assert quality.freshness(conn, END + timedelta(minutes=30)).passed


def test_row_count_fails_on_a_missing_and_an_unknown_product(conn):
    execute(conn, 'DELETE FROM public.sales WHERE product_id = %s AND "timestamp" = %s',
            ("P007", HOUR))  # fmt: skip
    outcome = quality.row_counts(conn, START, END, IDS)
    assert not outcome.passed
    assert "2026-04-01T11:00Z has 14 rows" in outcome.description
    assert "missing P007" in outcome.description
    assert outcome.metadata["bad_hours"] == 1

    breaks(conn, "product_id = 'P999'", product="P008")  # same count, wrong product
    outcome = quality.row_counts(conn, START, END, IDS)
    assert "products not in the catalog: P999" in outcome.description
    assert "missing P007, P008" in outcome.description
    # a window with no rows at all: every hour is short
    empty = quality.row_counts(conn, END, END + timedelta(hours=2), IDS)
    assert not empty.passed and empty.metadata["bad_hours"] == 2


@pytest.mark.parametrize(
    ("field", "assignment"),
    [
        ("rating", "rating = NULL"),
        ("popularity_factor", "popularity_factor = 'NaN'"),
        ("category", "category = ''"),
        ("product_name", "product_name = '  '"),
    ],
)
def test_missing_values_fail_naming_field_and_product(conn, field, assignment):
    execute(conn, "ALTER TABLE public.sales ALTER COLUMN rating DROP NOT NULL")
    breaks(conn, assignment)
    outcome = quality.null_values(conn, START, END)
    assert not outcome.passed
    assert (
        f"field {field} is missing in 1 row(s) (P003 at 2026-04-01T11:00Z)" in outcome.description
    )
    assert outcome.metadata[f"missing_{field}"] == 1
    assert quality.null_values(conn, START, HOUR).passed  # the hour before is clean


@pytest.mark.parametrize(
    ("rule", "assignment", "shown"),
    [
        ("views_below_100", "views = 99", "views 99 < 100"),
        ("cart_adds_below_1", "cart_adds = 0, purchases = 0", "cart_adds 0 < 1"),
        ("cart_adds_above_views", "cart_adds = views + 1", "> views"),
        ("purchases_below_1", "purchases = 0", "purchases 0 < 1"),
        ("purchases_above_cart_adds", "purchases = cart_adds + 1", "> cart_adds"),
        ("price_outside_range", "current_price = {high} * 2", "{twice} outside [{low}, {high}]"),
        ("price_outside_range", "current_price = {low} - 0.01", "current_price {below} outside"),
        ("rating_outside_range", "rating = 5.1", "rating 5.1 outside [2, 5]"),
    ],
)
def test_range_rules_fail_on_a_broken_row(conn, rule, assignment, shown):
    low, high = {p: (lo, hi) for p, lo, hi in RANGES}["P003"]
    values = {"low": low, "high": high, "twice": high * 2, "below": round(low - 0.01, 2)}
    breaks(conn, assignment.format(**values))
    outcome = quality.value_ranges(conn, START, END, RANGES)
    assert not outcome.passed
    assert f"{rule} in 1 row(s) (P003 at 2026-04-01T11:00Z: " in outcome.description
    assert shown.format(**values) in outcome.description
    assert outcome.metadata[rule] == 1


def test_price_on_the_bounds_passes(conn):
    low, high = {p: (lo, hi) for p, lo, hi in RANGES}["P004"]
    p3_high = {p: hi for p, _, hi in RANGES}["P003"]
    breaks(conn, f"current_price = {p3_high + 0.004}")  # within half a cent of P003's max
    breaks(conn, f"current_price = {low}", product="P004")
    assert quality.value_ranges(conn, START, END, RANGES).passed
    breaks(conn, f"current_price = {high + 0.01}", product="P004")
    assert not quality.value_ranges(conn, START, END, RANGES).passed


def test_unknown_product_has_no_price_range(conn):
    breaks(conn, "product_id = 'P999'")
    outcome = quality.value_ranges(conn, START, END, RANGES)
    assert "product_not_in_catalog in 1 row(s) (P999 at 2026-04-01T11:00Z" in outcome.description


def test_freshness(conn):
    latest_end = END  # the last hour is END - 1h; its window ends at END
    assert quality.freshness(conn, latest_end + timedelta(hours=2)).passed
    stale = quality.freshness(conn, latest_end + timedelta(hours=2, minutes=1))
    assert not stale.passed
    assert "latest partition 2026-04-01T12:00Z ended 2.0 h ago" in stale.description
    execute(conn, "TRUNCATE public.sales")
    assert not quality.freshness(conn, latest_end).passed


def test_reconcile_fails_when_metrics_and_sales_disagree(conn):
    m.ensure_metric_tables(conn)
    m.refresh_metrics(conn, START, END)
    good = quality.reconcile_metrics(conn, START, END)
    assert good.passed, good.description
    assert good.metadata["dashboard_items_sold"] == good.metadata["sales_items_sold"] > 0

    breaks(conn, "purchases = purchases + 1")  # sales changed, metrics not refreshed
    bad = quality.reconcile_metrics(conn, START, END)
    assert not bad.passed
    assert "items sold on 2026-04-01: dashboard" in bad.description
    assert "daily_product_sales on 2026-04-01" in bad.description
    m.refresh_metrics(conn, HOUR, HOUR + timedelta(hours=1))
    assert quality.reconcile_metrics(conn, START, END).passed

    execute(conn, "UPDATE analytics.dashboard_summary SET revenue = revenue + 0.01 WHERE is_latest")
    bad = quality.reconcile_metrics(conn)
    assert not bad.passed and "revenue on 2026-04-01: dashboard" in bad.description


# --- the Dagster checks themselves, in a partitioned run ---------------------------------------

#: The checks on `sales` and on the metrics, as the code location finds them.
DATA_CHECKS = dg.load_asset_checks_from_modules([checks, metrics_checks])


def evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_checks_pass_in_a_partitioned_run(dsn):
    reset(dsn)
    result = dg.materialize(
        [sales_asset(), analytics_metrics, *DATA_CHECKS],
        partition_key="2026-04-01-11:00",
        resources=resources(DB),
        raise_on_error=False,
    )
    assert result.success
    ev = evaluations(result)
    assert set(ev) == {k.name for c in DATA_CHECKS for k in c.check_keys}
    for name in ["sales_rows_per_hour", "sales_no_missing_values", "sales_values_in_range",
                 "metrics_reconcile_with_sales"]:  # fmt: skip
        assert ev[name].passed, (name, ev[name].description)
    assert ev["sales_rows_per_hour"].metadata["window_start"].value == "2026-04-01T11:00Z"
    # data from April 2026 is old: the freshness check fails, as a warning outside the schedule
    assert not ev["sales_freshness"].passed
    assert ev["sales_freshness"].severity == dg.AssetCheckSeverity.WARN


def test_a_blocking_check_stops_the_metrics(dsn):
    reset(dsn)

    def corrupt(df):
        df.loc[df["product_id"] == "P005", "purchases"] = 0
        return df

    result = dg.materialize(
        [sales_asset(corrupt), analytics_metrics, *DATA_CHECKS],
        partition_key="2026-04-01-11:00",
        resources=resources(DB),
        raise_on_error=False,
    )
    ev = evaluations(result)
    assert not ev["sales_values_in_range"].passed
    assert ev["sales_values_in_range"].blocking
    assert "purchases_below_1 in 1 row(s) (P005 at 2026-04-01T11:00Z" in (
        ev["sales_values_in_range"].description
    )
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey("sales") in materialized
    assert not any(k.path[0] == "analytics" for k in materialized)
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('analytics.dashboard_summary')")
        assert cur.fetchone()[0] is None  # the metrics step never ran
    conn.close()


# --- the price_response check's inputs are the app's -------------------------------------------


def test_the_price_response_check_builds_the_apps_profiles(conn, settings):
    """The check's what-if profiles and model input rows are, row for row, those the simulation
    page builds from its own reads of `products` and `avg_purchases_by_bucket`."""
    with dg.build_resources({"warehouse": PostgresResource(database=DB)}) as built:
        resource = built.warehouse
    with pytest.raises(pg_errors.UndefinedTable):  # nothing materialized yet
        model_checks.price_response_inputs(resource)
    replace_products(conn, products_frame(CATALOG))
    m.ensure_metric_tables(conn)
    m.refresh_metrics(conn)

    profiles, ranges = model_checks.price_response_inputs(resource)
    assert list(profiles.columns) == PROFILE_COLUMNS
    assert len(profiles) == 15 * 2  # 10:00-12:59 UTC: Morning and Afternoon hours
    assert ranges == {pid: (lo, hi) for pid, lo, hi in RANGES}
    grid = features.grid_frame(profiles, ranges, FULL_FEATURES, points=21)

    app = app_wh.Warehouse(settings.warehouse.with_database(DB))
    products = app_wh.load_products(app).set_index("product_id", drop=False)
    seen = 0
    for pid in IDS:
        product = products.loc[pid]
        for bucket in app_wh.load_buckets(app, pid).to_dict("records"):
            name = bucket["time_of_day_bucket"]
            mine = profiles[
                (profiles["product_id"] == pid) & (profiles["time_of_day_bucket"] == name)
            ]
            assert whatif_profile(product, bucket) == mine.iloc[0].to_dict()
            prices = pricing.price_grid(product["min_price"], product["max_price"], 21)
            rows = app_features.feature_rows(product, bucket, prices, FULL_FEATURES)
            theirs = grid[(grid["product_id"] == pid) & (grid["bucket"] == name)]
            pd.testing.assert_frame_equal(
                rows.reset_index(drop=True),
                theirs[["price", *FULL_FEATURES]].reset_index(drop=True),
                check_exact=True,
            )
            seen += 1
    assert seen == len(profiles)
    assert (profiles["popularity_factor"] > 0).all() and profiles["rating"].between(2, 5).all()
