"""The retraining sensor, the daily fallback schedule and the run-failure summary, evaluated
against a real (temporary) Dagster instance holding real asset events.

`sales` and `sales_forecast` materializations are reported into the instance as the running stack
would record them; the sensor is evaluated with `build_sensor_context` and its cursor is carried
from one evaluation to the next, as the daemon does.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from profiteer_pipeline.definitions import defs
from profiteer_pipeline.defs.automation.failures import failure_summary, run_failure_summary
from profiteer_pipeline.defs.automation.retraining import (
    MODEL_KEY,
    SALES_KEY,
    RetrainPolicy,
    build_retraining_sensor,
    daily_retraining_schedule,
)

POLICY = RetrainPolicy(min_new_partitions=3, mae_degradation=0.25)
SENSOR = build_retraining_sensor(POLICY, name="test_retraining_sensor")


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def land(instance, *hours: int) -> None:
    """`sales` partitions materialized (hours after 2026-03-01 00:00 UTC)."""
    for h in hours:
        key = (datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=h)).strftime("%Y-%m-%d-%H:%M")
        instance.report_runless_asset_event(dg.AssetMaterialization(SALES_KEY, partition=key))


def trained(instance, mae: float | None) -> None:
    metadata = {} if mae is None else {"held_out_mae": dg.MetadataValue.float(mae)}
    instance.report_runless_asset_event(dg.AssetMaterialization(MODEL_KEY, metadata=metadata))


class Ticks:
    """Evaluates the sensor like the daemon: each tick gets the previous tick's cursor."""

    def __init__(self, instance, sensor=SENSOR):
        self.instance, self.sensor, self.cursor = instance, sensor, None

    def __call__(self) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, definitions=defs
        )
        result = self.sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        assert json.loads(self.cursor)  # always a cursor, even on a skip
        return result


def skip_text(result: dg.SensorResult) -> str:
    assert not result.run_requests, result.run_requests
    assert result.skip_reason is not None
    return result.skip_reason.skip_message


def test_requests_after_n_new_partitions_and_only_once(instance):
    tick = Ticks(instance)
    land(instance, 0, 1)
    assert "2 new sales partition(s) since the start (no training yet) (need 3)" in skip_text(
        tick()
    )
    land(instance, 2)
    result = tick()
    (request,) = result.run_requests
    assert "3 new sales partitions" in request.tags["profiteer/retrain_reason"]
    # the same tick again, nothing new: no second request
    assert "0 new sales partition(s)" in skip_text(tick())


def test_rematerialized_partitions_count_once(instance):
    tick = Ticks(instance)
    land(instance, 5, 5, 5, 6)
    assert "2 new sales partition(s)" in skip_text(tick())


def test_counts_only_partitions_after_the_last_training(instance):
    tick = Ticks(instance)
    land(instance, 0, 1, 2, 3)
    trained(instance, 5.0)  # e.g. the daily schedule trained meanwhile
    land(instance, 4, 5)
    assert "2 new sales partition(s) since the last training (need 3)" in skip_text(tick())
    land(instance, 6)
    (request,) = tick().run_requests
    assert (
        "3 new sales partitions since the last training" in request.tags["profiteer/retrain_reason"]
    )


def test_degraded_held_out_error_requests_a_retraining_once_new_data_landed(instance):
    tick = Ticks(instance)
    trained(instance, 5.0)
    trained(instance, 7.0)  # 40 % worse than before: beyond +25 %
    text = skip_text(tick())
    assert "held-out MAE 7.00 vs 5.00 before (beyond +25%)" in text  # but no new data yet
    land(instance, 0)
    (request,) = tick().run_requests
    reason = request.tags["profiteer/retrain_reason"]
    assert "held-out MAE 7.00 vs 5.00" in reason and "new data has landed" in reason
    land(instance, 1)
    assert "already judged" in skip_text(tick())  # the same training is not judged twice


def test_error_within_threshold_skips_and_says_so(instance):
    tick = Ticks(instance)
    trained(instance, 5.0)
    trained(instance, 6.0)  # +20 %: within +25 %
    land(instance, 0)
    assert "held-out MAE 6.00 vs 5.00 before (within +25%)" in skip_text(tick())


def test_skips_while_a_training_run_is_in_progress(instance):
    tick = Ticks(instance)
    land(instance, 0, 1, 2, 3)
    run = instance.add_run(
        dg.DagsterRun(
            job_name="train_model_job",
            run_id="0f0f0f0f-0000-4000-8000-000000000001",
            status=dg.DagsterRunStatus.STARTED,
        )
    )
    assert f"training run {run.run_id} is STARTED" in skip_text(tick())


def test_skips_while_automation_trains_the_first_model(instance):
    """Automation's run of `sales_forecast` (an asset job, not train_model_job) counts too: the
    sensor must not start a second training beside it."""
    tick = Ticks(instance)
    land(instance, 0, 1, 2, 3)
    other = instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id="0f0f0f0f-0000-4000-8000-000000000003",
            status=dg.DagsterRunStatus.STARTED,
            asset_selection=frozenset({SALES_KEY}),
        )
    )
    assert len(tick().run_requests) == 1, other.run_id  # a run of `sales` is not a training
    run = instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id="0f0f0f0f-0000-4000-8000-000000000002",
            status=dg.DagsterRunStatus.STARTING,
            asset_selection=frozenset({MODEL_KEY}),
        )
    )
    assert f"training run {run.run_id} is STARTING" in skip_text(tick())


def test_policy_from_environment(monkeypatch):
    monkeypatch.setenv("PROFITEER_RETRAIN_MIN_PARTITIONS", "6")
    monkeypatch.setenv("PROFITEER_RETRAIN_MAE_DEGRADATION", "0.5")
    assert RetrainPolicy.from_env() == RetrainPolicy(6, 0.5)
    monkeypatch.setenv("PROFITEER_RETRAIN_MIN_PARTITIONS", "many")
    with pytest.raises(ValueError, match="retraining sensor config"):
        RetrainPolicy.from_env()
    with pytest.raises(ValueError, match="min_new_partitions"):
        RetrainPolicy(0, 0.5)


def test_default_sensor_is_in_the_code_location():
    sensor = defs.resolve_sensor_def("retraining_sensor")
    assert sensor.job_name == "train_model_job"
    assert defs.resolve_sensor_def("run_failure_summary") is not None
    assert defs.resolve_schedule_def("daily_retraining_schedule").job_name == "train_model_job"


# --- the daily fallback -------------------------------------------------------------------------


def daily_request(result) -> dg.RunRequest:
    """The fallback's request: one run of train_model_job (the request names no job, so the
    daemon runs the schedule's) tagged with why, and nothing else."""
    assert isinstance(result, dg.RunRequest), result
    assert (result.job_name or daily_retraining_schedule.job_name) == "train_model_job"
    assert result.tags == {"profiteer/retrain_reason": "daily fallback"}
    assert result.partition_key is None and result.asset_selection is None
    return result


def test_daily_schedule_runs_unless_trained_recently(instance):
    now = datetime.now(UTC)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=now)
    daily_request(daily_retraining_schedule(context))  # never trained
    trained(instance, 5.0)
    soon = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=now + timedelta(hours=2)
    )
    skip = daily_retraining_schedule(soon)
    assert isinstance(skip, dg.SkipReason) and "trained 2.0 h ago" in skip.skip_message
    later = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=now + timedelta(hours=13)
    )
    daily_request(daily_retraining_schedule(later))


# --- run failures -------------------------------------------------------------------------------


@dg.asset
def exploding_asset() -> None:
    raise dg.Failure(description="kaboom: the disk is full")


def test_run_failure_summary_names_job_run_step_and_error(instance, capfd):
    result = dg.materialize([exploding_asset], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (record,) = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_summary",
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    summary = failure_summary(context)
    assert f"run {result.run_id} of job {run.job_name} failed" in summary
    assert "step exploding_asset: kaboom: the disk is full" in summary
    capfd.readouterr()
    run_failure_summary(context)  # the sensor's logger: the tick's log and the console
    assert "step exploding_asset: kaboom: the disk is full" in capfd.readouterr().err
