"""The import's Dagster side: `sales_file_sensor` notices a dropped file (build_sensor_context),
the import assets materialize its partition with their metadata, a bad file fails the run with
one message and writes nothing. Real PostgreSQL, real PyAirbyte + source-file."""

from __future__ import annotations

import json
import os
import time

import dagster as dg
import pytest
from import_fixtures import AMBIGUOUS, MESSY_UCI, SHOPIFY, read_table, schema_exists, write

from profiteer_pipeline.definitions import defs
from profiteer_pipeline.defs.files.assets import import_order_export, inbox_file
from profiteer_pipeline.defs.files.file_airbyte import EmbeddedFileImport
from profiteer_pipeline.defs.files.resources import ImportReaders
from profiteer_pipeline.defs.files.sensors import sales_file_sensor
from profiteer_pipeline.defs.warehouse.resources import warehouse_resource


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("PROFITEER_INBOX", str(folder))
    monkeypatch.setenv("PROFITEER_INBOX_SETTLE_SECONDS", "0")
    return folder


def _evaluate(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sales_file_sensor(context)


def _materialize(instance, name: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [import_order_export, inbox_file],
        partition_key=name,
        instance=instance,
        resources={
            "warehouse": warehouse_resource(),
            "file_airbyte": EmbeddedFileImport(),
            "import_readers": ImportReaders(),
        },
        raise_on_error=False,
    )


def test_the_sensor_notices_a_dropped_file_and_its_run_imports_it(inbox, pg_server, settings):
    instance = dg.DagsterInstance.ephemeral()
    assert _evaluate(instance).skip_reason is not None  # empty inbox

    write(inbox, "dropped_orders.csv", MESSY_UCI)
    write(inbox, ".partial.csv.tmp", "still being copied")  # hidden/temporary: ignored
    first = _evaluate(instance)
    assert isinstance(first, dg.SensorResult)
    [request] = first.run_requests
    assert request.partition_key == "dropped_orders"
    assert request.tags["profiteer/import"] == "dropped_orders"
    [added] = first.dynamic_partitions_requests
    assert list(added.partition_keys) == ["dropped_orders"]

    instance.add_dynamic_partitions("imported_files", ["dropped_orders"])
    result = _materialize(instance, "dropped_orders")
    assert result.success
    meta = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("import_order_export")
    }
    assert set(meta) == {
        "raw_order_lines", "import_order_lines", "import_quarantine", "import_sales",
        "import_daily_sales", "import_products",
    }  # fmt: skip
    assert meta["raw_order_lines"]["dagster/row_count"].value == 14
    assert meta["import_order_lines"]["lines_accepted"].value == 5
    assert meta["import_order_lines"]["lines_returned"].value == 2
    rejected = meta["import_quarantine"]["rejected_by_reason"].value
    assert rejected["duplicate line"] == 1 and sum(rejected.values()) == 7
    assert meta["import_sales"]["products"].value == 3
    assert meta["import_sales"]["first_hour"].value == "2010-12-01T08:00:00+00:00"
    assert meta["import_sales"]["last_hour"].value == "2011-02-20T11:00:00+00:00"
    assert "data:image/png;base64" in meta["import_daily_sales"]["chart"].value
    # 3 products over the days from 2010-12-01 to 2011-02-20 (82 days)
    assert meta["import_daily_sales"]["dagster/row_count"].value == 3 * 82
    assert "|" in meta["import_sales"]["preview"].value

    # unchanged: nothing requested; touched with the same bytes: still nothing
    again = _evaluate(instance, first.cursor)
    assert again.skip_reason is not None and not again.run_requests
    path = inbox / "dropped_orders.csv"
    earlier = time.time_ns() - 5_000_000_000  # an mtime that moved, the bytes the same
    os.utime(path, ns=(earlier, earlier))
    touched = _evaluate(instance, first.cursor)
    assert touched.skip_reason is not None and not touched.run_requests  # cursor updated
    assert (
        json.loads(touched.cursor)["dropped_orders"][0]
        != json.loads(first.cursor)["dropped_orders"][0]
    )
    cursor = touched.cursor
    # changed content under the same name: a new run for the same partition, no new partition
    write(inbox, "dropped_orders.csv", SHOPIFY)
    changed = _evaluate(instance, cursor)
    [rerun] = changed.run_requests
    assert rerun.partition_key == "dropped_orders" and rerun.run_key != request.run_key
    assert not changed.dynamic_partitions_requests
    assert (
        json.loads(changed.cursor)["dropped_orders"][1]
        != json.loads(first.cursor)["dropped_orders"][1]
    )


def test_a_file_still_being_written_waits_for_the_next_tick(inbox, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setenv("PROFITEER_INBOX_SETTLE_SECONDS", "60")
    write(inbox, "arriving.csv", MESSY_UCI)
    assert _evaluate(instance).skip_reason is not None  # modified just now
    old = time.time_ns() - 120 * 10**9
    os.utime(inbox / "arriving.csv", ns=(old, old))
    [request] = _evaluate(instance).run_requests
    assert request.partition_key == "arriving"


def test_a_bad_file_fails_the_run_with_one_message_and_writes_nothing(inbox, pg_server, settings):
    instance = dg.DagsterInstance.ephemeral()
    write(inbox, "bad_dates.csv", AMBIGUOUS)
    instance.add_dynamic_partitions("imported_files", ["bad_dates"])
    result = _materialize(instance, "bad_dates")
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.user_failure_data
    assert "column timestamp" in error.description and "day_first" in error.description
    assert error.metadata["column"].value == "timestamp"
    assert error.metadata["example_lines"].value == "2, 3, 4"
    assert not schema_exists(settings, "import_bad_dates")
    raw = read_table(
        settings, "SELECT count(*) FROM imports_raw.order_lines WHERE import_name = 'bad_dates'"
    )
    assert raw.iloc[0, 0] == 0
