"""The foundation: settings, the embedded PostgreSQL over TCP, the code location loads."""

import dagster as dg
import psycopg2
import pytest

from profiteer_pipeline.settings import PgUrl


def test_pg_url_round_trip_quotes_password():
    url = PgUrl("postgres", "p@ss:w/rd", "127.0.0.1", 5433, "warehouse")
    back = PgUrl.parse(url.dsn())
    assert back == url
    assert "p@ss" not in url.redacted()


def test_embedded_postgres_listens_on_loopback_tcp(settings):
    conn = psycopg2.connect(settings.warehouse.dsn())
    with conn, conn.cursor() as cur:
        cur.execute("SELECT inet_server_addr()::text, current_setting('listen_addresses')")
        addr, listen = cur.fetchone()
    conn.close()
    assert addr.startswith("127.0.0.1")
    assert listen == "127.0.0.1"


def test_password_is_required_over_tcp(settings):
    wrong = PgUrl(
        settings.warehouse.user,
        "wrong",
        settings.warehouse.host,
        settings.warehouse.port,
        "warehouse",
    )
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong.dsn())


def test_reader_role_cannot_write(settings):
    conn = psycopg2.connect(settings.reader.dsn())
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE TABLE public.should_not_exist (x int)")
    finally:
        conn.close()


def test_definitions_load():
    """The code location loads (every resource its assets need is bound, or validate_loadable
    raises) with its seven resources, its three jobs and what they run, and its automation, on."""
    from profiteer_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert sorted(repo.get_top_level_resources()) == [
        "airbyte", "catalog", "file_airbyte", "import_readers", "mindsdb", "shop_store",
        "warehouse",
    ]  # fmt: skip
    jobs = {j.name: j for j in repo.get_all_jobs() if not j.name.startswith("__")}
    assert sorted(jobs) == ["hourly_sales_job", "import_job", "train_model_job"]
    imports = jobs["import_job"]
    assert imports.asset_layer.selected_asset_keys == {
        dg.AssetKey(name)
        for name in ("raw_order_lines", "import_order_lines", "import_quarantine", "import_sales",
                     "import_daily_sales", "import_products")
    }  # fmt: skip
    assert isinstance(imports.partitions_def, dg.DynamicPartitionsDefinition)
    hourly = jobs["hourly_sales_job"]
    metrics = [
        "avg_purchases_by_bucket", "category_revenue", "daily_product_sales", "dashboard_summary",
        "hot_products", "hourly_sales", "hourly_totals", "product_bucket_totals", "product_stats",
    ]  # fmt: skip
    assert hourly.asset_layer.selected_asset_keys == {
        dg.AssetKey("synthetic_sales"), dg.AssetKey("raw_sales"), dg.AssetKey("sales"),
        *(dg.AssetKey(["analytics", name]) for name in metrics),
    }  # fmt: skip
    assert isinstance(hourly.partitions_def, dg.HourlyPartitionsDefinition)
    assert hourly.partitions_def.get_first_partition_key() == "2026-01-01-00:00"
    train = jobs["train_model_job"]
    assert train.asset_layer.selected_asset_keys == {dg.AssetKey("sales_forecast")}
    assert train.partitions_def is None
    schedules = {s.name: (s.job_name, s.cron_schedule, s.execution_timezone, s.default_status)
                 for s in repo.schedule_defs}  # fmt: skip
    running = dg.DefaultScheduleStatus.RUNNING
    assert schedules == {
        "hourly_sales_schedule": ("hourly_sales_job", "5 * * * *", "UTC", running),
        "daily_retraining_schedule": ("train_model_job", "30 3 * * *", "UTC", running),
    }
    sensors = {s.name: s for s in repo.sensor_defs}
    assert sorted(sensors) == [
        "automation_condition_sensor",
        "retraining_sensor",
        "run_failure_summary",
        "sales_file_sensor",
    ]
    assert sensors["sales_file_sensor"].job_name == "import_job"
    assert sensors["retraining_sensor"].job_name == "train_model_job"
    assert {s.default_status for s in sensors.values()} == {dg.DefaultSensorStatus.RUNNING}
