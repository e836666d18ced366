"""The gate before any training: no model is trained on hours whose blocking `sales` checks failed.

The checks on `sales` run in the hourly job and record the window they judged (`window_start`,
`window_end`). An hour's verdict is the newest evaluation that covered it, so a broken hour keeps
the gate shut until a run re-checks that hour and passes. The model asset refuses to train while
the gate is shut, and the retraining sensor and schedule skip, each saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from profiteer_pipeline.defs.ingest import checks as sales_checks

#: Evaluations read per check, newest first (a year of hourly runs is ~8,800).
HISTORY = 2_000


@dataclass(frozen=True)
class FailedHours:
    check: str
    start: datetime
    end: datetime
    description: str

    def __str__(self) -> str:
        span = f"{self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC"
        return f"{self.check} failed for {span}: {self.description}"


def blocking_sales_checks() -> list[dg.AssetCheckKey]:
    """The blocking checks on `sales`, as `defs/ingest/checks.py` declares them."""
    return sorted(
        (
            spec.key
            for checks_def in dg.load_asset_checks_from_modules([sales_checks])
            for spec in checks_def.check_specs
            if spec.blocking
        ),
        key=lambda k: k.name,
    )


def _hours(metadata: dict) -> list[datetime] | None:
    start, end = metadata.get("window_start"), metadata.get("window_end")
    if start is None or end is None:
        return None
    first = datetime.fromisoformat(str(start.value))
    last = datetime.fromisoformat(str(end.value))
    return [first + timedelta(hours=h) for h in range(int((last - first) / timedelta(hours=1)))]


def failed_sales_hours(instance: dg.DagsterInstance) -> list[FailedHours]:
    """The hours whose newest blocking check evaluation failed, per check."""
    failed: list[FailedHours] = []
    for key in blocking_sales_checks():
        judged: set[datetime] = set()
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=HISTORY)
        for record in history:  # newest first
            evaluation = record.event.asset_check_evaluation if record.event else None
            hours = _hours(evaluation.metadata) if evaluation else None
            if not hours:
                continue
            newest = sorted(set(hours) - judged)
            if newest and not evaluation.passed:
                description = (evaluation.description or "").splitlines()[0]
                failed.append(
                    FailedHours(key.name, newest[0], newest[-1] + timedelta(hours=1), description)
                )
            judged.update(hours)
    return failed


def gate_message(failed: list[FailedHours], limit: int = 3) -> str:
    """One paragraph for a run's failure or a sensor's skip reason."""
    shown = "; ".join(str(f) for f in failed[:limit])
    more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
    return (
        "not training: blocking checks on `sales` failed for hours it would train on: "
        f"{shown}{more}. Fix those hours and re-run their partitions of hourly_sales_job."
    )
