"""The graph drives itself, and the model is never trained on hours whose checks failed.

- The automation conditions, evaluated by Dagster's own evaluator over the real code location:
  `products` and `sales_features` when missing and when an input updates; the first model once
  its training data is updated; nothing more once the model exists (retraining is the sensor's).
- The gate: one hour's rows broken, the blocking checks fail in a real partitioned run; the model
  asset then refuses to train (no MindsDB version is created) and the retraining sensor and the
  daily schedule skip, each saying why. Once the hour is re-run clean, training starts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
from automation_fixtures import requested
from metrics_fixtures import private_database, reset, resources, sales_asset

from profiteer_pipeline.definitions import defs
from profiteer_pipeline.defs.automation.conditions import keep_fresh
from profiteer_pipeline.defs.automation.retraining import (
    RetrainPolicy,
    build_retraining_sensor,
    daily_retraining_schedule,
)
from profiteer_pipeline.defs.ingest import checks as sales_checks
from profiteer_pipeline.defs.model.assets import SPEC, sales_forecast
from profiteer_pipeline.defs.model.gate import blocking_sales_checks, failed_sales_hours
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.assets import sales_features
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.stack.roles import grant_model
from profiteer_pipeline.warehouse import metrics as m

DB = "profiteer_automation_test"
HOURS = ["2026-05-04-10:00", "2026-05-04-11:00"]
BROKEN = HOURS[1]


#: the metric tables (one multi-asset): they follow `sales` when it is updated outside the
#: hourly job, whose runs refresh them themselves
METRICS = sorted(f"analytics/{t}" for t in m.METRIC_TABLES)


def test_conditions_materialize_what_is_missing_then_follow_updates():
    instance = dg.DagsterInstance.ephemeral()
    cursor = None

    def tick() -> list[str]:
        nonlocal cursor
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = result.cursor
        return requested(result)

    def report(key: str, partition: str | None = None) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))

    tick()  # the first evaluation only records the state
    assert tick() == ["products"]  # missing on a fresh instance; `sales` is still empty
    report("products")
    assert tick() == []
    report("sales", HOURS[0])  # the first hour lands (here without the hourly job's metrics)
    assert tick() == sorted([*METRICS, "sales_features"])  # all the metric tables, as one step
    for table in METRICS:
        report(table)
    report("sales_features")
    assert tick() == ["sales_forecast"]  # the first model, once its training data exists
    assert tick() == []
    report("sales", HOURS[1])  # the schedule's next hour: its run refreshes the metrics after it
    for table in METRICS:
        report(table)
    assert tick() == ["sales_features"]
    report("sales_features")
    report("sales_forecast")
    # a model exists: retraining is the sensor's and the schedule's; the recommendations follow
    # each training (tests/test_model_recommendations.py)
    assert tick() == ["price_recommendations"]
    report("price_recommendations")
    assert tick() == []


def test_a_failed_run_is_not_requested_again_on_every_tick():
    """A missing asset whose run failed waits for an input update: no retry loop every 30 s."""

    @dg.asset(name="products", automation_condition=keep_fresh())
    def broken_products():
        raise RuntimeError("the catalog cannot be read")

    definitions = dg.Definitions(assets=[broken_products])
    instance = dg.DagsterInstance.ephemeral()
    cursor, requested_ticks = None, []
    for tick in range(6):
        result = dg.evaluate_automation_conditions(
            defs=definitions, instance=instance, cursor=cursor
        )
        cursor = result.cursor
        if requested(result):
            requested_ticks.append(tick)
            dg.materialize([broken_products], instance=instance, raise_on_error=False)
    assert requested_ticks == [1]


def test_the_automation_sensor_is_on_by_default():
    sensor = defs.resolve_sensor_def("automation_condition_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert {s.name for s in defs.sensors} >= {"automation_condition_sensor", "retraining_sensor"}


def test_the_gate_reads_the_blocking_checks_declared_on_sales():
    names = {key.name for key in blocking_sales_checks()}
    declared = {
        spec.name
        for c in dg.load_asset_checks_from_modules([sales_checks])
        for spec in c.check_specs
        if spec.blocking
    }
    assert (
        names
        == declared
        == {
            "sales_rows_per_hour",
            "sales_no_missing_values",
            "sales_values_in_range",
        }
    )


@pytest.fixture(scope="module")
def gated(settings, mindsdb_url):
    dsn = private_database(settings, DB)
    reset(dsn)
    grant_model(dsn, settings.model_user, DB)  # MindsDB's login reads the view, as on `up`
    with dg.instance_for_test() as instance:
        yield (
            instance,
            resources(DB) | {"mindsdb": MindsDBResource(url=mindsdb_url, warehouse_database=DB)},
        )


def corrupt(df):
    df.loc[df["product_id"] == "P003", "cart_adds"] = -1
    return df


def load(instance, res, partition: str, broken: bool) -> dg.ExecuteInProcessResult:
    """One hour of `sales` with the checks on it, as the hourly job runs them."""
    return dg.materialize(
        [sales_asset(corrupt if broken else None),
         *dg.load_asset_checks_from_modules([sales_checks])],
        partition_key=partition, resources=res, instance=instance, raise_on_error=False,
    )  # fmt: skip


@pytest.mark.mindsdb
def test_no_training_while_an_hours_blocking_checks_failed(gated, mindsdb_url):
    instance, res = gated
    client = MindsDBClient(mindsdb_url)
    client.query(f"DROP MODEL IF EXISTS {SPEC.qualified_name}")
    for partition in HOURS:
        load(instance, res, partition, broken=partition == BROKEN)
    dg.materialize([sales_features], resources=res, instance=instance)

    failed = failed_sales_hours(instance)
    assert [(f.check, f.start) for f in failed] == [
        ("sales_values_in_range", datetime(2026, 5, 4, 11, tzinfo=UTC))
    ]
    assert "P003" in failed[0].description

    result = dg.materialize(
        [sales_forecast], resources=res, instance=instance, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert "not training" in message and "sales_values_in_range" in message
    assert "2026-05-04 11:00" in message
    assert client.versions(SPEC.name, SPEC.project) == []  # MindsDB was never asked to train

    sensor = build_retraining_sensor(RetrainPolicy(min_new_partitions=1), name="gate_sensor")
    tick = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert not tick.run_requests and "not training" in tick.skip_reason.skip_message
    schedule = daily_retraining_schedule(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.now(UTC))
    )
    assert isinstance(schedule, dg.SkipReason) and "sales_values_in_range" in schedule.skip_message

    load(instance, res, BROKEN, broken=False)  # the hour fixed and re-checked
    assert failed_sales_hours(instance) == []
    tick = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert len(tick.run_requests) == 1 and sensor.job_name == "train_model_job"
    result = dg.materialize([sales_forecast], resources=res, instance=instance)
    assert result.success
    assert [v.status for v in client.versions(SPEC.name, SPEC.project)] == ["complete"]
