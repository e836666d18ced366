"""When `sales_forecast` is retrained.

- `retraining_sensor`: requests `train_model_job` when at least N new `sales` partitions have
  landed since the last training, or when the latest training's held-out MAE is worse than the
  one before by more than a threshold (and new data has landed since). It keeps a cursor and
  every skip says why.
- `daily_retraining_schedule`: the fallback, once a day, unless a training finished recently.

Both skip, saying why, while blocking checks on `sales` have failed for hours the model would
train on (`defs/model/gate.py`).

Config (environment, read when the code location loads):
- `PROFITEER_RETRAIN_MIN_PARTITIONS` (default 24: a day of hours);
- `PROFITEER_RETRAIN_MAE_DEGRADATION` (default 0.25: 25 % worse than the previous training).
"""

import json
import os
import time
from dataclasses import dataclass

import dagster as dg

from profiteer_pipeline.defs.automation.jobs import train_model_job
from profiteer_pipeline.defs.model.gate import failed_sales_hours, gate_message

SALES_KEY = dg.AssetKey("sales")
MODEL_KEY = dg.AssetKey("sales_forecast")
PAGE = 500
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class RetrainPolicy:
    min_new_partitions: int = 24
    mae_degradation: float = 0.25

    def __post_init__(self) -> None:
        if self.min_new_partitions < 1:
            raise ValueError("min_new_partitions must be at least 1")
        if self.mae_degradation <= 0:
            raise ValueError("mae_degradation must be > 0 (a ratio: 0.25 = 25 % worse)")

    @classmethod
    def from_env(cls) -> "RetrainPolicy":
        env = os.environ
        try:
            return cls(
                int(env.get("PROFITEER_RETRAIN_MIN_PARTITIONS", cls.min_new_partitions)),
                float(env.get("PROFITEER_RETRAIN_MAE_DEGRADATION", cls.mae_degradation)),
            )
        except ValueError as exc:
            raise ValueError(f"retraining sensor config: {exc}") from None


def _held_out_mae(record: dg.EventLogRecord) -> float | None:
    mat = record.asset_materialization
    value = mat.metadata.get("held_out_mae") if mat else None
    return None if value is None else float(value.value)  # type: ignore[arg-type]


def _new_partitions(instance: dg.DagsterInstance, after: int, enough: int) -> tuple[set[str], int]:
    """Distinct `sales` partitions materialized after storage id `after` (stops at `enough`)."""
    seen: set[str] = set()
    last = after
    cursor = None
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SALES_KEY, after_storage_id=after),
            limit=PAGE,
            cursor=cursor,
            ascending=True,
        )
        for record in result.records:
            seen.add(record.partition_key or "(unpartitioned)")
            last = max(last, record.storage_id)
            if len(seen) >= enough:
                return seen, last
        if not result.has_more:
            return seen, last
        cursor = result.cursor


def _training_in_progress(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A queued or running run that trains the model: this job's, or automation's first model."""
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS), limit=PAGE):
        if run.job_name == train_model_job.name or MODEL_KEY in (run.asset_selection or ()):
            return run
    return None


def build_retraining_sensor(
    policy: RetrainPolicy,
    name: str = "retraining_sensor",
    minimum_interval_seconds: int = 120,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """The retraining sensor for `policy` (tests build their own with small thresholds)."""

    @dg.sensor(
        name=name,
        job=train_model_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"Retrain sales_forecast after {policy.min_new_partitions} new `sales` "
        f"partitions, or when its held-out MAE is more than {policy.mae_degradation:.0%} worse "
        "than the previous training's (once new data has landed).",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from profiteer_pipeline.model.evaluation import degraded  # numpy: not at load time

        state = json.loads(context.cursor) if context.cursor else {}
        instance = context.instance
        models = instance.fetch_materializations(MODEL_KEY, limit=2).records  # newest first
        latest = models[0] if models else None
        # count from the later of: the last training, the last run we requested
        baseline = max(state.get("baseline", 0), latest.storage_id if latest else 0)
        judged = state.get("judged", 0)
        cursor = {"baseline": baseline, "judged": judged}

        if running := _training_in_progress(instance):
            return dg.SensorResult(
                skip_reason=f"training run {running.run_id} is {running.status.value}",
                cursor=json.dumps(cursor),
            )

        parts, last_id = _new_partitions(instance, baseline, policy.min_new_partitions)
        reasons = []
        since = "the last training" if latest else "the start (no training yet)"
        if len(parts) >= policy.min_new_partitions:
            reasons.append(f"{len(parts)} new sales partitions since {since}")
        mae_note = "no held-out MAE to compare yet"
        if latest is not None and len(models) > 1 and latest.storage_id > judged:
            now_mae, before_mae = _held_out_mae(latest), _held_out_mae(models[1])
            if now_mae is not None and before_mae is not None:
                worse = degraded(now_mae, before_mae, policy.mae_degradation)
                mae_note = (
                    f"held-out MAE {now_mae:.2f} vs {before_mae:.2f} before "
                    f"({'beyond' if worse else 'within'} +{policy.mae_degradation:.0%})"
                )
                if worse and parts:
                    reasons.append(mae_note + ", and new data has landed")
                    cursor["judged"] = latest.storage_id
                elif not worse:
                    cursor["judged"] = latest.storage_id
        elif latest is not None and latest.storage_id <= judged:
            mae_note = "the latest training's MAE was already judged"

        if not reasons:
            return dg.SensorResult(
                skip_reason=f"{len(parts)} new sales partition(s) since {since} (need "
                f"{policy.min_new_partitions}); {mae_note}",
                cursor=json.dumps(cursor),
            )
        if failed := failed_sales_hours(instance):
            # the reasons stand: once the hours are fixed, the next tick requests the training
            return dg.SensorResult(skip_reason=gate_message(failed), cursor=json.dumps(cursor))
        cursor["baseline"] = last_id
        reason = "; ".join(reasons)
        context.log.info(f"requesting a retraining: {reason}")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"retrain-after-{last_id}-{cursor['judged']}",
                    tags={"profiteer/retrain_reason": reason[:200]},
                )
            ],
            cursor=json.dumps(cursor),
        )

    return _sensor


retraining_sensor = build_retraining_sensor(RetrainPolicy.from_env())

#: The daily fallback skips when a training finished within this many hours.
RECENT_TRAINING_HOURS = 12


@dg.schedule(
    name="daily_retraining_schedule",
    job=train_model_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Fallback: retrain sales_forecast daily at 03:30 UTC, unless it was trained in "
    f"the last {RECENT_TRAINING_HOURS} hours (e.g. by the retraining sensor).",
)
def daily_retraining_schedule(context: dg.ScheduleEvaluationContext):
    latest = context.instance.fetch_materializations(MODEL_KEY, limit=1).records
    now = (
        context.scheduled_execution_time.timestamp()
        if context.scheduled_execution_time
        else time.time()
    )
    if latest and now - latest[0].timestamp < RECENT_TRAINING_HOURS * 3600:
        hours = (now - latest[0].timestamp) / 3600
        return dg.SkipReason(f"sales_forecast was trained {hours:.1f} h ago")
    if failed := failed_sales_hours(context.instance):
        return dg.SkipReason(gate_message(failed))
    return dg.RunRequest(tags={"profiteer/retrain_reason": "daily fallback"})
