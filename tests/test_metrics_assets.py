"""The warehouse and metric assets through Dagster, on the real embedded PostgreSQL: metadata a
person sees in the UI, single-run ranges, the `products` dimension and the training view."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
from metrics_fixtures import private_database, range_tags, reset, resources, sales_asset

from profiteer_pipeline.defs.metrics.assets import analytics_metrics, key
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.assets import products, sales_features
from profiteer_pipeline.synth import load_default_catalog
from profiteer_pipeline.warehouse import metrics as m
from profiteer_pipeline.warehouse.products import PRODUCTS_COLUMNS
from profiteer_pipeline.warehouse.schema import SALES_FEATURES_COLUMNS

DB = "profiteer_metric_assets_test"


@pytest.fixture(scope="module")
def dsn(settings) -> str:
    return private_database(settings, DB)


def query(dsn: str, statement: str, params=None) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:  # commits
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()


def frame(dsn: str, table: str) -> pd.DataFrame:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {table}")  # noqa: S608
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    finally:
        conn.close()


def materializations(result) -> dict[dg.AssetKey, dict]:
    return {
        e.asset_key: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def per_partition(result) -> dict[dg.AssetKey, list[dict]]:
    out: dict[dg.AssetKey, list[dict]] = {}
    for e in result.get_asset_materialization_events():
        out.setdefault(e.asset_key, []).append(e.event_specific_data.materialization)
    return out


def observations(result) -> dict[dg.AssetKey, list]:
    out: dict[dg.AssetKey, list] = {}
    for e in result.get_asset_observation_events():
        out.setdefault(e.asset_key, []).append(e.event_specific_data.asset_observation)
    return out


def test_definitions_load():
    from profiteer_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for table in m.METRIC_TABLES:
        assert graph.get(key(table)).group_name == "metrics"
        # one table over all of history: one materialization per run, not one per hour
        assert graph.get(key(table)).partitions_def is None
        assert graph.get(key(table)).automation_condition is not None
    for name in ["products", "sales_features"]:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "warehouse" and node.partitions_def is None
    job = defs.resolve_job_def("hourly_sales_job")
    assert key("dashboard_summary") in job.asset_layer.asset_graph.get_all_asset_keys()


def test_range_run_writes_every_table_with_metadata(dsn):
    reset(dsn)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [sales_asset(), analytics_metrics],
        resources=resources(DB),
        instance=instance,
        tags=range_tags("2026-05-01-00:00", "2026-05-02-05:00"),  # 30 hours in one run
    )
    assert result.success
    meta = materializations(result)
    assert set(meta) == {dg.AssetKey("sales")} | {key(t) for t in m.METRIC_TABLES}
    # `sales`: one materialization per hour (Dagster's partition status); each metric table:
    # one for the run, with its preview and chart
    hourly = per_partition(result)
    assert not observations(result)
    for asset_key, mats in hourly.items():
        if asset_key == dg.AssetKey("sales"):
            assert len(mats) == 30
            assert {mat.partition for mat in mats} == {
                f"2026-05-{1 + h // 24:02d}-{h % 24:02d}:00" for h in range(30)
            }
            continue
        (mat,) = mats
        assert mat.partition is None, asset_key
    previews = {k: v for k, v in meta.items() if k != dg.AssetKey("sales")}

    counts = {t: query(dsn, f"SELECT count(*) FROM analytics.{t}")[0][0] for t in m.TABLES}  # noqa: S608
    for table in m.METRIC_TABLES:
        md = meta[key(table)]
        assert md["dagster/row_count"].value == counts[table] > 0, table
        assert previews[key(table)]["preview"].value.startswith("| "), table
    assert counts["hourly_totals"] == 6 and counts["dashboard_summary"] == 2
    for table, name in [("hourly_totals", "revenue_by_hour"), ("hot_products", "purchases_top"),
                        ("category_revenue", "revenue_by_category")]:  # fmt: skip
        assert previews[key(table)][name].value.startswith("![")
        assert "data:image/png;base64," in previews[key(table)][name].value
    dash = meta[key("dashboard_summary")]
    day, revenue, items = query(
        dsn, "SELECT day, revenue, items_sold FROM analytics.dashboard_summary WHERE is_latest"
    )[0]
    assert dash["latest_day"].value == str(day) == "2026-05-02"
    assert dash["revenue"].value == pytest.approx(revenue)
    assert dash["items_sold"].value == items
    base = meta[key("daily_product_sales")]
    assert base["sales_rows_read"].value == 30 * 15
    assert base["days_refreshed"].value == "2026-05-01 .. 2026-05-03 (excl.)"
    log = query(dsn, "SELECT mode, window_start, window_end, sales_rows FROM analytics.refresh_log")
    assert log == [
        (
            "full",  # the first refresh reads all of `sales`
            datetime(2026, 5, 1, tzinfo=UTC),
            datetime(2026, 5, 3, tzinfo=UTC),
            450,
        )
    ]

    # the next hour, as the schedule would run it: only that day is re-aggregated
    result = dg.materialize(
        [sales_asset(), analytics_metrics],
        resources=resources(DB),
        instance=instance,
        partition_key="2026-05-02-06:00",
    )
    assert result.success
    assert materializations(result)[key("daily_product_sales")]["sales_rows_read"].value == 7 * 15
    assert not observations(result)
    assert materializations(result)[key("hourly_totals")]["preview"].value.startswith("| ")
    assert query(dsn, "SELECT mode FROM analytics.refresh_log ORDER BY id")[-1] == ("incremental",)
    assert query(dsn, "SELECT count(*) FROM analytics.hourly_totals")[0][0] == 7
    before = {t: query(dsn, f"SELECT * FROM analytics.{t} ORDER BY 1, 2") for t in m.BASE_TABLES}  # noqa: S608
    conn = psycopg2.connect(dsn)
    m.refresh_metrics(conn)
    conn.close()
    after = {t: query(dsn, f"SELECT * FROM analytics.{t} ORDER BY 1, 2") for t in m.BASE_TABLES}  # noqa: S608
    assert before == after


def test_first_refresh_and_a_changed_layout_read_all_history(dsn):
    reset(dsn)
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(
        [sales_asset()],
        resources=resources(DB),
        instance=instance,
        tags=range_tags("2026-05-01-00:00", "2026-05-02-23:00"),
    )

    def run(tags=None, **kwargs):
        return dg.materialize(
            [analytics_metrics], resources=resources(DB), instance=instance, tags=tags, **kwargs
        )

    last_hour = {"dagster/partition": "2026-05-02-23:00"}
    run(last_hour)
    days = "SELECT count(DISTINCT day) FROM analytics.daily_product_sales"
    assert query(dsn, days) == [(2,)]  # the first refresh read both days, not just the window's
    assert query(dsn, "SELECT count(*) FROM analytics.category_revenue") == [(6,)]

    # an older layout of a table (a column missing) is recreated and everything rebuilt
    query(dsn, "ALTER TABLE analytics.daily_product_sales DROP COLUMN max_price; SELECT 1")
    run(last_hour)
    assert query(dsn, days) == [(2,)]
    log = "SELECT mode, window_start, window_end FROM analytics.refresh_log ORDER BY id"
    assert [row[0] for row in query(dsn, log)] == ["full", "full"]
    run(last_hour)
    assert query(dsn, log)[-1] == (
        "incremental",
        datetime(2026, 5, 2, tzinfo=UTC),
        datetime(2026, 5, 3, tzinfo=UTC),
    )
    run(last_hour, run_config={"ops": {"analytics_metrics": {"config": {"full_rebuild": True}}}})
    assert query(dsn, log)[-1][0] == "full"

    # hours of `sales` loaded by other runs (here: without the metrics) are re-aggregated by the
    # next metrics run, even one with no partition (automation, `asset materialize`)
    for hour in ("2026-05-03-02:00", "2026-05-05-07:00"):
        dg.materialize(
            [sales_asset()], resources=resources(DB), instance=instance, partition_key=hour
        )
    refreshes = len(query(dsn, log))
    result = run()
    assert result.success
    assert query(dsn, log)[refreshes:] == [
        ("incremental", datetime(2026, 5, 3, tzinfo=UTC), datetime(2026, 5, 4, tzinfo=UTC)),
        ("incremental", datetime(2026, 5, 5, tzinfo=UTC), datetime(2026, 5, 6, tzinfo=UTC)),
    ]
    assert query(dsn, days) == [(4,)]
    base = materializations(result)[key("daily_product_sales")]
    assert base["sales_rows_read"].value == 2 * 15
    # nothing changed since: no refresh, the tables are reported as they are
    result = run()
    assert result.success and len(query(dsn, log)) == refreshes + 2
    assert materializations(result)[key("daily_product_sales")]["days_refreshed"].value == "none"


def test_metrics_without_sales_fail_clearly(dsn):
    reset(dsn)
    query(dsn, "DROP TABLE public.sales; SELECT 1")  # committed
    result = dg.materialize(
        [analytics_metrics],
        resources=resources(DB),
        tags={"dagster/partition": "2026-05-02-06:00"},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure.description == "public.sales does not exist: materialize `sales` first"


def test_products_dimension(dsn, tmp_path):
    reset(dsn)
    result = dg.materialize([products], resources=resources(DB))
    catalog = load_default_catalog()
    md = materializations(result)[dg.AssetKey("products")]
    assert md["dagster/row_count"].value == len(catalog) == 15
    assert md["categories"].value == 3
    assert "data:image/png;base64," in md["price_ranges"].value
    rows = query(dsn, f"SELECT {', '.join(PRODUCTS_COLUMNS)} FROM public.products ORDER BY 1")  # noqa: S608
    want = sorted(tuple(getattr(p, c) for c in PRODUCTS_COLUMNS) for p in catalog)
    assert rows == want

    # a bad catalog is refused with the product and field named, and the table is unchanged
    raw = [p.model_dump() for p in catalog[:2]]
    raw[1]["min_price"] = raw[1]["base_price"] + 1
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps(raw))
    result = dg.materialize(
        [products],
        resources=resources(DB, CatalogResource(path=str(bad))),
        raise_on_error=False,
    )
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.user_failure_data.description
    assert "the catalog is invalid" in message and raw[1]["product_id"] in message
    assert "min_price" in message
    assert query(dsn, "SELECT count(*) FROM public.products")[0][0] == 15

    # a smaller valid catalog replaces the table whole
    small = tmp_path / "small.json"
    small.write_text(json.dumps([p.model_dump() for p in catalog[:3]]))
    dg.materialize([products], resources=resources(DB, CatalogResource(path=str(small))))
    assert [r[0] for r in query(dsn, "SELECT product_id FROM public.products ORDER BY 1")] == [
        "P001",
        "P002",
        "P003",
    ]


def test_sales_features_view(dsn):
    reset(dsn)
    dg.materialize(
        [sales_asset()],
        resources=resources(DB),
        tags=range_tags("2026-05-01-00:00", "2026-05-01-09:00"),
    )
    result = dg.materialize([sales_features], resources=resources(DB))
    md = materializations(result)[dg.AssetKey("sales_features")]
    assert md["dagster/row_count"].value == 10 * 15
    assert md["products"].value == 15
    assert "data:image/png;base64," in md["price_vs_conversion"].value
    df, sales = frame(dsn, "public.sales_features"), frame(dsn, "public.sales")
    assert list(df.columns)[: len(SALES_FEATURES_COLUMNS)] == SALES_FEATURES_COLUMNS
    merged = df.merge(sales, on=["product_id", "timestamp"], suffixes=("", "_s"))
    assert len(merged) == 150
    assert merged["price_ratio"].tolist() == pytest.approx(
        (merged["current_price_s"] / merged["base_price_s"]).tolist(), abs=5e-5
    )
    hours = merged["timestamp"].dt.tz_convert("UTC").dt.hour
    assert (merged["hour_of_day"] == hours).all()
    assert (merged["purchases"] == merged["purchases_s"]).all()
    assert datetime(2026, 5, 1, 9, tzinfo=UTC) == merged["timestamp"].max().to_pydatetime()
    assert timedelta(hours=9) == merged["timestamp"].max() - merged["timestamp"].min()
