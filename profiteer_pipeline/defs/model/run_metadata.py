"""What every source's model run reports about its model and its evaluation, under one set of
names: `sales_forecast` and `import_forecast` emit them, `price_recommendations` reads the shop's
back (`recommendations.held_out_error`), and the Dagster UI shows the same fields for both.

- the model: `model`, `model_version`, `training_action`, `training_seconds`, `engine`;
- the backtest (`held_out.Evaluation`): `held_out_from`, `held_out_rows`, `backtest_folds`,
  `backtest_meets_goal`, `holdout_training_seconds`, each method's figures by their
  `METRIC_FIELDS` names, and where evaluated the table per fold and a predicted-vs-actual chart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from profiteer_pipeline import previews

if TYPE_CHECKING:
    from profiteer_pipeline.model.held_out import Evaluation
    from profiteer_pipeline.model.spec import ModelSpec
    from profiteer_pipeline.model.training import TrainingResult


def model(spec: ModelSpec, training: TrainingResult) -> dict[str, object]:
    """The model the run trained: its name, version, what the training did and how long."""
    return {
        "model": spec.qualified_name,
        "model_version": training.version.version,
        "training_action": training.action,
        "training_seconds": round(training.seconds, 1),
        "engine": spec.engine,
    }


def evaluation(ev: Evaluation) -> dict[str, object]:
    """The backtest's figures and where it held out, the same for every grain."""
    out: dict[str, object] = {
        "held_out_from": str(ev.held_out_from.to_pydatetime()) if ev.folds else "none",
        "held_out_rows": ev.rows,
        "backtest_folds": ev.folds,
        # >= 20 % below the seasonal naive and below the trailing mean, on both metrics
        "backtest_meets_goal": ev.meets_goal,
        "holdout_training_seconds": round(ev.twin_seconds, 1),
        **{k: dg.MetadataValue.float(previews.rounded(v)) for k, v in ev.figures.items()},
    }
    if ev.result is not None:
        metrics, ys = ev.result.metrics, ev.yardstick
        out["backtest"] = dg.MetadataValue.md(
            previews.markdown_table(metrics.round(4), rows=len(metrics))
        )
        out["predicted_vs_actual"] = dg.MetadataValue.md(
            previews.predicted_vs_actual(
                ev.result.scored["units"].to_numpy(),
                ev.result.scored["model"].to_numpy(),
                f"Units per {ys.grain} in {ev.folds} held-out "
                f"{'fold' if ev.folds == 1 else 'folds'} of {ys.horizon} {ys.unit}s from "
                f"{ev.held_out_from:%Y-%m-%d %H:%M}",
            )
        )
    return out
