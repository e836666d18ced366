"""The hourly data path end to end, all real: generator -> shop store (embedded PostgreSQL) ->
shop API (uvicorn) -> the Airbyte CDK running the manifest -> airbyte_raw.sales -> public.sales.

PyAirbyte syncs cost about a second each once it is imported, so the tests share windows and
keep the number of runs small.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg2
import pytest
from ingest_fixtures import expected_rows, table_rows

from profiteer_pipeline.defs.ingest.assets import raw_sales, sales
from profiteer_pipeline.defs.shop.assets import synthetic_sales
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse.raw_sales import AIRBYTE_COLUMNS

pytest_plugins = ["ingest_fixtures"]

ASSETS = [synthetic_sales, raw_sales, sales]
FIELDS = list(RECORD_FIELDS)


class _Capture(logging.Handler):
    """Every line the connector logs (formatted, arguments included)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def hour(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)


def run(resources, partition_key: str | None = None, tags=None, assets=ASSETS, **kw):
    return dg.materialize(assets, partition_key=partition_key, tags=tags, resources=resources, **kw)


def snapshot(settings, start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
    """The three tables' rows for a window."""
    return {
        "shop": table_rows(settings.shop.dsn(), "public.shop_sales", start, end, FIELDS),
        "raw": table_rows(
            settings.warehouse.dsn(), "airbyte_raw.sales", start, end, FIELDS + AIRBYTE_COLUMNS
        ),
        "sales": table_rows(settings.warehouse.dsn(), "public.sales", start, end, FIELDS),
    }


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    expected = expected[FIELDS].reset_index(drop=True)
    actual = actual[FIELDS].reset_index(drop=True).astype(expected.dtypes.to_dict())
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)


def materializations(result, key: str) -> list[dg.AssetMaterialization]:
    return result.asset_materializations_for_node(key)


def test_one_partition_end_to_end(ingest_resources, settings, api_key, state_root):
    key = "2026-03-02-05:00"
    start = hour(key)
    end = start + timedelta(hours=1)
    connector_log = _Capture()
    airbyte_logger = logging.getLogger("airbyte")
    airbyte_logger.addHandler(connector_log)
    previous_level = airbyte_logger.level
    airbyte_logger.setLevel(logging.DEBUG)
    try:
        result = run(ingest_resources, key)
    finally:
        airbyte_logger.removeHandler(connector_log)
        airbyte_logger.setLevel(previous_level)
    assert result.success

    tables = snapshot(settings, start, end)
    expected = expected_rows(start, end)
    assert len(expected) == 15
    assert_same_rows(tables["shop"], expected)
    assert_same_rows(tables["sales"], expected)  # exactly the generator's values, via HTTP
    # Airbyte's columns survive in the landing table
    raw = tables["raw"]
    assert len(raw) == 15 and raw["_airbyte_raw_id"].is_unique
    assert raw["_airbyte_extracted_at"].notna().all()

    (raw_mat,) = materializations(result, "raw_sales")
    assert raw_mat.metadata["dagster/row_count"].value == 15
    assert raw_mat.metadata["mode"].value == "embedded"
    assert raw_mat.metadata["rows_per_second"].value > 0
    (sales_mat,) = materializations(result, "sales")
    assert sales_mat.metadata["dagster/row_count"].value == 15
    assert "P001" in sales_mat.metadata["preview"].value

    # the API key appears nowhere: not in the run's events, not in the connector's log lines
    # (at DEBUG it logs each request), not in any log file under the session's state folder
    events = "\n".join(str(e) for e in result.all_events)
    assert api_key not in events
    assert connector_log.lines, "the connector logged nothing"
    assert not [line for line in connector_log.lines if api_key in line]
    logs = sorted(path for path in state_root.rglob("*.log") if path.is_file())
    server_log = state_root / "postgres" / "postgres.log"  # always written by this session
    assert server_log in logs, f"no PostgreSQL log under the state folder, only {logs}"
    written = [path for path in logs if path.stat().st_size > 0]
    assert server_log in written, f"{server_log} is empty: scanning it would prove nothing"
    for path in written:
        assert api_key not in path.read_text(errors="replace"), path


def test_same_partition_twice_no_duplicates(ingest_resources, settings):
    key = "2026-03-02-07:00"
    start, end = hour(key), hour(key) + timedelta(hours=1)
    assert run(ingest_resources, key).success
    first = snapshot(settings, start, end)
    assert run(ingest_resources, key).success
    second = snapshot(settings, start, end)
    for name in ("shop", "raw", "sales"):
        assert len(second[name]) == 15, name
    assert_same_rows(second["sales"], first["sales"])
    assert_same_rows(second["shop"], first["shop"])
    # a fresh sync replaced the landing rows of the window rather than adding to them
    assert set(second["raw"]["_airbyte_raw_id"]).isdisjoint(first["raw"]["_airbyte_raw_id"])


def _clear(settings, start: datetime, end: datetime) -> None:
    for dsn, table in (
        (settings.shop.dsn(), "public.shop_sales"),
        (settings.warehouse.dsn(), "airbyte_raw.sales"),
        (settings.warehouse.dsn(), "public.sales"),
    ):
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute(
                f'DELETE FROM {table} WHERE "timestamp" >= %s AND "timestamp" < %s',  # noqa: S608
                (start, end),
            )
        conn.close()


def test_two_partitions_in_either_order_give_identical_rows(ingest_resources, settings):
    a, b = "2026-03-03-10:00", "2026-03-03-11:00"
    start, end = hour(a), hour(b) + timedelta(hours=1)
    for key in (a, b):
        assert run(ingest_resources, key).success
    forward = snapshot(settings, start, end)["sales"]
    _clear(settings, start, end)
    for key in (b, a):
        assert run(ingest_resources, key).success
    backward = snapshot(settings, start, end)["sales"]
    assert len(forward) == 30
    assert_same_rows(backward, forward)
    assert_same_rows(backward, expected_rows(start, end))


def test_partition_range_in_one_run(ingest_resources, settings):
    first, last = "2026-03-04-00:00", "2026-03-04-02:00"
    start, end = hour(first), hour(last) + timedelta(hours=1)
    result = run(
        ingest_resources,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    assert result.success
    tables = snapshot(settings, start, end)
    assert_same_rows(tables["sales"], expected_rows(start, end))
    assert len(tables["raw"]) == 45
    # one step (one sync) for the whole range, one materialization per hour; the range's figures
    # once, in one observation per asset on its last hour, none on the hours' materializations
    assert len(materializations(result, "raw_sales")) == 3
    for name, rows in (("raw_sales", 45), ("sales", 45)):
        assert not [m for m in materializations(result, name) if m.metadata], name
        (obs,) = [
            e.event_specific_data.asset_observation
            for e in result.get_asset_observation_events()
            if e.asset_key == dg.AssetKey(name)
        ]
        assert obs.partition == last
        assert obs.metadata["partition_range"].value == f"{first} ... {last}"
        assert obs.metadata["dagster/row_count"].value == rows
    starts = [e for e in result.all_events if e.event_type_value == "STEP_START"]
    assert sorted(e.step_key for e in starts) == ["raw_sales", "sales", "synthetic_sales"]


def test_refused_catalog_fails_before_writing(ingest_resources, settings, tmp_path):
    key = "2026-03-02-05:00"  # written by the end-to-end test: must stay as it is
    start, end = hour(key), hour(key) + timedelta(hours=1)
    run(ingest_resources, key, assets=[synthetic_sales])
    before = snapshot(settings, start, end)["shop"]

    products = [p.model_dump() for p in CatalogResource().products()]
    products[2]["min_price"] = products[2]["base_price"] + 100  # P003: min above base
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps(products))
    resources = {**ingest_resources, "catalog": CatalogResource(path=str(bad))}
    result = run(resources, key, assets=[synthetic_sales], raise_on_error=False)

    assert not result.success
    failure = result.failure_data_for_node("synthetic_sales")
    message = failure.user_failure_data.description
    assert "catalog refused" in message and "P003" in message and "min_price" in message
    after = snapshot(settings, start, end)["shop"]
    assert_same_rows(after, before)
    assert len(after) == 15


@pytest.mark.faults
def test_shop_api_down_fails_after_retries_naming_the_url(ingest_resources):
    from ingest_fixtures import free_port

    from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    embedded = ingest_resources["airbyte"]
    airbyte = EmbeddedAirbyte(
        warehouse=ingest_resources["warehouse"], api_url=down, work_dir=embedded.work_dir
    )
    result = run(
        {**ingest_resources, "airbyte": airbyte},
        "2026-03-05-00:00",
        assets=[raw_sales],
        raise_on_error=False,
    )
    assert not result.success
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert len(restarts) == 2  # RetryPolicy(max_retries=2)
    failure = result.failure_data_for_node("raw_sales")
    assert down in failure.user_failure_data.description


def test_hourly_schedule_runs_the_latest_complete_hour():
    from profiteer_pipeline.defs.automation.schedules import hourly_sales_schedule

    assert hourly_sales_schedule.job_name == "hourly_sales_job"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 2, 6, 5, tzinfo=UTC)
    )
    (request,) = hourly_sales_schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-03-02-05:00"


def test_manifest_is_a_valid_incremental_declarative_source():
    """What an Airbyte server sees on import: the CDK validates it, the spec hides the key, and the
    `sales` stream is incremental on `timestamp` with the primary key (product_id, timestamp)."""
    import logging

    from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
        ConcurrentDeclarativeSource,
    )

    from profiteer_pipeline.defs.ingest.airbyte_embedded import load_manifest

    config = {"api_url": "http://shop.test", "api_key": "k", "start": "2026-01-01T00:00:00Z"}
    source = ConcurrentDeclarativeSource(source_config=load_manifest(), config=config)
    logger = logging.getLogger("manifest-test")
    spec = source.spec(logger).connectionSpecification
    assert spec["properties"]["api_key"]["airbyte_secret"] is True
    assert set(spec["required"]) == {"api_url", "api_key", "start"}
    (stream,) = source.discover(logger, config).streams
    assert stream.name == "sales"
    assert stream.source_defined_primary_key == [["product_id"], ["timestamp"]]
    assert [m.value for m in stream.supported_sync_modes] == ["full_refresh", "incremental"]
    assert stream.default_cursor_field == ["timestamp"]
    assert list(stream.json_schema["properties"]) == FIELDS
