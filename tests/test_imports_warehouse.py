"""Imports end to end against the real warehouse, through the real Airbyte File source (PyAirbyte
runs source-file from its own venv): messy exports, reconciliation, idempotency, refusals."""

from __future__ import annotations

import pandas as pd
import pytest
from import_fixtures import (
    AMBIGUOUS,
    MESSY_EXPECTED,
    MESSY_UCI,
    SHOPIFY,
    connection,
    connector,
    plain_frame,
    read_table,
    schema_exists,
    write,
    write_xlsx,
)

from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.pipeline import run_import


def test_messy_uci_export_every_line_accounted_for(tmp_path, settings):
    connect = connector(settings)
    path = write(tmp_path, "messy.csv", MESSY_UCI)
    result = run_import(path, "messy", connect)
    s = result.summary
    assert s["layout"] == "uci" and s["delimiter"] == ";"
    assert s["grain"] == "every hour" and s["product_hours"] == s["products"] * s["hours"]
    assert s["orders"] == 4  # 5 sales lines, two on invoice 536365
    assert s["decimal_marks"]["unit_price"] == ","
    assert s["row_number_columns"] == ["Unnamed: 0"]  # pandas names the empty header
    lines = read_table(settings, "SELECT line, kind FROM import_messy.order_lines ORDER BY line")
    quarantine = read_table(settings, "SELECT * FROM import_messy.quarantine ORDER BY line")
    seen = dict(zip(lines["line"], lines["kind"], strict=True))
    seen |= dict(zip(quarantine["line"], quarantine["reason"], strict=True))
    assert seen == MESSY_EXPECTED
    assert s["lines_read"] == len(MESSY_EXPECTED)
    assert s["lines_accepted"] + s["lines_returned"] + s["lines_rejected"] == s["lines_read"]
    assert s["rejected_by_reason"]["duplicate line"] == 1
    bad_price = quarantine[quarantine["line"] == 9].iloc[0]
    assert (bad_price["column"], bad_price["value"]) == ("UnitPrice", "-11062,06")
    raw = read_table(
        settings,
        "SELECT line, _airbyte_data->>'StockCode' AS sku, _airbyte_raw_id, _airbyte_meta "
        "FROM imports_raw.order_lines WHERE import_name = 'messy' ORDER BY line",
    )
    assert raw["line"].tolist() == list(range(2, 16))
    assert raw.loc[0, "sku"] == "85123A" and raw["_airbyte_raw_id"].notna().all()


def test_accepted_lines_reconcile_exactly_with_hourly_sales(tmp_path, settings):
    connect = connector(settings)
    run_import(write(tmp_path, "messy.csv", MESSY_UCI), "recon", connect)
    lines = read_table(
        settings,
        "SELECT sum(quantity) AS units, sum(revenue) AS revenue, count(*) AS n "
        "FROM import_recon.order_lines WHERE kind = 'sale'",
    ).iloc[0]
    sales = read_table(
        settings,
        "SELECT sum(units) AS units, sum(revenue) AS revenue, sum(lines) AS n, "
        "sum(returned_units) AS returned, count(*) AS cells, "
        "count(*) FILTER (WHERE units = 0) AS zero_cells FROM import_recon.sales",
    ).iloc[0]
    assert lines["units"] == sales["units"] and lines["revenue"] == sales["revenue"]
    assert lines["n"] == sales["n"]
    assert float(sales["returned"]) == 3.0  # the cancelled invoice and the negative quantity
    products = read_table(settings, "SELECT * FROM import_recon.products ORDER BY product_id")
    # zero-sale hours are rows: every product over the whole span
    span = (products["last_hour"].max() - products["first_hour"].min()) / pd.Timedelta("1h") + 1
    assert sales["cells"] == len(products) * span and sales["zero_cells"] > 0
    heart = products.set_index("product_id").loc["85123A"]
    assert heart["product_name"] == "WHITE HANGING HEART"
    assert float(heart["base_price"]) == 2.6  # the median price paid (2.55 and 2.65)
    # the daily roll-up the app reads adds up to the hours, day by day and product by product
    daily = read_table(settings, "SELECT * FROM import_recon.daily ORDER BY product_id, day")
    by_day = read_table(
        settings,
        "SELECT product_id, (\"timestamp\" AT TIME ZONE 'UTC')::date AS day, sum(units) AS units, "
        "sum(revenue) AS revenue, sum(orders) AS orders, sum(returned_units) AS returned_units "
        "FROM import_recon.sales GROUP BY 1, 2 ORDER BY 1, 2",
    )
    columns = ["product_id", "day", "units", "revenue", "orders", "returned_units"]
    pd.testing.assert_frame_equal(
        daily[columns].astype({"orders": "int64"}), by_day[columns].astype({"orders": "int64"})
    )


def test_shopify_export_takes_timestamps_from_the_order(tmp_path, settings):
    connect = connector(settings)
    result = run_import(write(tmp_path, "shop.csv", SHOPIFY), "shopify_orders", connect)
    s = result.summary
    assert s["layout"] == "shopify" and s["lines_rejected"] == 0
    assert s["timestamps_from_order"] == 1
    lines = read_table(
        settings,
        "SELECT line, product_id, ordered_at, order_id FROM import_shopify_orders.order_lines",
    ).set_index("line")
    assert lines.loc[3, "ordered_at"] == lines.loc[2, "ordered_at"]  # the order's second line
    assert lines.loc[2, "ordered_at"] == pd.Timestamp("2024-03-04T09:15:00Z")  # +01:00 -> UTC
    orders = read_table(
        settings,
        "SELECT sum(orders) AS orders FROM import_shopify_orders.sales WHERE product_id = 'MUG-BLUE'",
    )
    assert orders.iloc[0, 0] == 2


def test_parquet_and_json_lines(tmp_path, settings):
    connect = connector(settings)
    frame = plain_frame()
    frame.to_parquet(tmp_path / "orders.parquet", index=False)
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_json(
        tmp_path / "orders.jsonl", orient="records", lines=True
    )
    a = run_import(tmp_path / "orders.parquet", "pq_orders", connect).summary
    b = run_import(tmp_path / "orders.jsonl", "jl_orders", connect).summary
    for s in (a, b):
        assert s["lines_read"] == len(frame) and s["lines_rejected"] == 0
        assert s["units"] == float(frame["quantity"].sum())
        assert s["revenue"] == pytest.approx(float((frame["quantity"] * frame["price"]).sum()))
    assert a["format"] == "parquet" and b["format"] == "jsonl"
    pq = read_table(settings, "SELECT * FROM import_pq_orders.sales ORDER BY 1, 2")
    jl = read_table(settings, "SELECT * FROM import_jl_orders.sales ORDER BY 1, 2")
    pd.testing.assert_frame_equal(pq, jl)
    cats = read_table(settings, "SELECT DISTINCT category FROM import_pq_orders.products")
    assert cats["category"].tolist() == ["kitchen"]


def test_ambiguous_dates_are_refused_with_the_fix_and_nothing_is_written(tmp_path, settings):
    connect = connector(settings)
    path = write(tmp_path, "amb.csv", AMBIGUOUS)
    with pytest.raises(ImportRefused) as refused:
        run_import(path, "ambiguous", connect)
    message = str(refused.value)
    assert "column timestamp" in message and "2, 3, 4" in message and "day_first" in message
    assert not schema_exists(settings, "import_ambiguous")
    raw = read_table(
        settings, "SELECT count(*) FROM imports_raw.order_lines WHERE import_name = 'ambiguous'"
    )
    assert raw.iloc[0, 0] == 0
    mapping = write(tmp_path, "amb.yaml", "day_first: true\n")
    s = run_import(path, "ambiguous", connect, mapping_file=mapping).summary
    assert s["first_hour"].startswith("2024-04-03T10")  # 03/04 read as 3 April


def test_same_file_twice_identical_and_changed_file_replaces(tmp_path, settings):
    connect = connector(settings)
    path = write(tmp_path, "twice.csv", MESSY_UCI)
    run_import(path, "twice", connect)
    tables = ("order_lines", "quarantine", "sales", "daily", "products")

    def snapshot():
        out = {
            t: read_table(settings, f"SELECT * FROM import_twice.{t} ORDER BY 1, 2")  # noqa: S608
            for t in tables
        }
        out["raw"] = read_table(
            settings,
            "SELECT * FROM imports_raw.order_lines WHERE import_name = 'twice' ORDER BY line",
        )
        return out

    before = snapshot()
    again = run_import(path, "twice", connect)
    assert again.unchanged
    after = snapshot()
    for key, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[key])
    # the same name, new content: its rows are replaced, nothing of the old file remains, nor
    # what the model learnt from it (import_forecast trains again)
    with connection(settings) as conn, conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE import_twice.price_advice (product_id text)")
    write(tmp_path, "twice.csv", SHOPIFY)
    changed = run_import(path, "twice", connect)
    assert (
        read_table(settings, "SELECT to_regclass('import_twice.price_advice')").iloc[0, 0] is None
    )
    assert not changed.unchanged and changed.summary["layout"] == "shopify"
    products = read_table(settings, "SELECT product_id FROM import_twice.products ORDER BY 1")
    assert products["product_id"].tolist() == ["MUG-BLUE", "MUG-RED", "TOWEL-1"]
    raw = read_table(
        settings, "SELECT count(*) FROM imports_raw.order_lines WHERE import_name = 'twice'"
    )
    assert raw.iloc[0, 0] == 4


def test_a_file_without_the_required_columns_names_them(tmp_path, settings):
    connect = connector(settings)
    path = write(tmp_path, "odd.csv", "when,what,how_many\n2024-01-01,A,1\n")
    with pytest.raises(ImportRefused, match="matches no known layout.*--mapping"):
        run_import(path, "odd", connect)
    assert not schema_exists(settings, "import_odd")


def test_excel_workbook(tmp_path, settings):
    connect = connector(settings)
    rows = [
        ["Order Date", "SKU", "Item Name", "Quantity", "Item Cost", "Order Number", "Category"],
        ["2024-06-01 09:15", "WC-1", "Candle", 2, 4.5, "1001", "home"],
        ["2024-06-01 09:15", "WC-2", "Soap", 1, 3.25, "1001", "bath"],
        ["2024-06-01 11:02", "WC-1", "Candle", 1, 4.5, "1002", "home"],
    ]
    path = write_xlsx(tmp_path / "woo.xlsx", rows)
    s = run_import(path, "woo_excel", connect).summary
    assert s["format"] == "excel" and s["layout"] == "woocommerce"
    assert s["lines_read"] == 3 and s["lines_rejected"] == 0
    assert s["units"] == 4.0 and s["revenue"] == pytest.approx(16.75)
    products = read_table(settings, "SELECT product_id, category FROM import_woo_excel.products")
    assert dict(zip(products["product_id"], products["category"], strict=True)) == {
        "WC-1": "home",
        "WC-2": "bath",
    }


def test_a_file_the_connector_cannot_parse_is_refused_and_writes_nothing(tmp_path, settings):
    connect = connector(settings)
    good = "timestamp,product_id,quantity,price\n" + "2024-01-01 10:00,A,1,2.00\n" * 30
    path = write(tmp_path, "broken.csv", good + "2024-01-01 11:00,A,1,2.00,extra,fields\n")
    with pytest.raises(ImportRefused, match="File source could not read the file"):
        run_import(path, "broken", connect)
    assert not schema_exists(settings, "import_broken")
    raw = read_table(
        settings, "SELECT count(*) FROM imports_raw.order_lines WHERE import_name = 'broken'"
    )
    assert raw.iloc[0, 0] == 0


def test_the_app_reads_an_import_and_the_model_only_what_it_is_given(tmp_path, settings):
    """The reader gets the import's tables (and later ones) and the list of imports; MindsDB's
    login gets the schema, then only the table granted to it."""
    import psycopg2

    from profiteer_pipeline.sources.files.tables import ImportAccess
    from profiteer_pipeline.warehouse.grants import grant_schema

    access = ImportAccess(readers=(settings.reader_user, "no_such_role"), model=settings.model_user)
    run_import(
        write(tmp_path, "messy.csv", MESSY_UCI), "granted", connector(settings), access=access
    )
    with connection(settings) as conn, conn:  # a table the model writes later, as the same login
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE import_granted.price_advice (product_id text)")
            cur.execute("CREATE TABLE import_granted.model_features (product_id text)")
        with conn.cursor() as cur:  # a table named for the model, and one that is not there
            grant_schema(
                cur, "import_granted", model=settings.model_user,
                model_tables=("model_features", "no_such_table"),
            )  # fmt: skip

    def rows(login, query):
        with psycopg2.connect(login.dsn()) as conn, conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()

    reader, model = settings.reader, settings.model
    for table in ("sales", "daily", "products", "quarantine", "price_advice"):
        rows(reader, f"SELECT count(*) FROM import_granted.{table}")  # noqa: S608 (test names)
    names = [r[0] for r in rows(reader, "SELECT name FROM imports_raw.imports")]
    assert "granted" in names
    assert rows(model, "SELECT count(*) FROM import_granted.model_features") == [(0,)]
    for table in ("sales", "order_lines", "price_advice"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match=f"table {table}"):
            rows(model, f"SELECT count(*) FROM import_granted.{table}")  # noqa: S608
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="order_lines"):
        rows(reader, "SELECT count(*) FROM imports_raw.order_lines")


def test_an_import_gets_the_metric_tables_the_shop_has(tmp_path, settings):
    """The shop's metric tables, declared once, in the import's schema and refreshed from its
    sales by the shop's own refresh: the same columns, and the same units and revenue as the
    import's own roll-up (revenue to the cent of each unit: the tables price an hour at its
    average price paid)."""
    from profiteer_pipeline.warehouse.metrics import TABLES

    run_import(write(tmp_path, "messy.csv", MESSY_UCI), "metrics", connector(settings))
    found = read_table(
        settings,
        "SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns"
        " FROM information_schema.columns WHERE table_schema = 'import_metrics'"
        " GROUP BY table_name",
    )
    columns = dict(zip(found["table_name"], found["columns"], strict=True))
    assert {name: columns.get(name) for name in TABLES} == {
        name: t.column_names for name, t in TABLES.items()
    }
    own = read_table(
        settings,
        "SELECT day, sum(units)::float8 AS units, sum(revenue)::float8 AS revenue"
        " FROM import_metrics.daily GROUP BY day HAVING sum(units) > 0 ORDER BY day",
    )
    metric = read_table(
        settings,
        "SELECT day, sum(purchases)::float8 AS units, sum(revenue_cents) / 100.0 AS revenue"
        " FROM import_metrics.daily_product_sales GROUP BY day ORDER BY day",
    )
    assert metric["day"].tolist() == own["day"].tolist()
    # whole units in the tables (their counts are bigint): the file's 1.5 units count as 2
    assert (metric["units"] - own["units"]).abs().le(0.5).all()
    assert (metric["units"] == own["units"]).sum() == len(own) - 1
    assert (metric["revenue"].astype(float) - own["revenue"]).abs().le(0.01 * own["units"]).all()
    latest = read_table(
        settings, "SELECT * FROM import_metrics.dashboard_summary WHERE is_latest"
    ).iloc[0]
    assert latest["day"] == own["day"].iloc[-1] and latest["items_sold"] == round(
        own["units"].iloc[-1]
    )
    assert pd.isna(latest["conversion_rate"])  # no funnel in the file: no rate, not zero
    stats = read_table(
        settings,
        "SELECT s.product_id, s.total_purchases::float8 AS sold, p.units::float8 AS units"
        " FROM import_metrics.product_stats s JOIN import_metrics.products p USING (product_id)",
    )
    assert len(stats) > 0 and (stats["sold"] - stats["units"]).abs().le(0.5).all()
    log = read_table(settings, "SELECT mode FROM import_metrics.refresh_log")
    assert log["mode"].tolist() == ["full"]
    # an import made before the metric tables: the same file again builds them, and only them
    with connection(settings) as conn, conn, conn.cursor() as cur:
        cur.execute("DROP VIEW import_metrics.metric_sales")
        for name in TABLES:
            cur.execute(f"DROP TABLE import_metrics.{name}")  # noqa: S608
    again = run_import(write(tmp_path, "messy.csv", MESSY_UCI), "metrics", connector(settings))
    assert again.unchanged
    rebuilt = read_table(settings, "SELECT sum(purchases)::float8 AS units"
                                   " FROM import_metrics.daily_product_sales")  # fmt: skip
    assert rebuilt["units"].iloc[0] == metric["units"].sum()
