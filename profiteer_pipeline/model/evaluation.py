"""How good the model is: held-out error, and whether predicted sales fall as the price rises.

Pure numpy/pandas (no Dagster), shared by the asset, its checks, the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# the rules' numbers live in a module without imports (descriptions quote them at load time)
from profiteer_pipeline.model.tolerances import ABS_TOLERANCE, REL_TOLERANCE
from profiteer_pipeline.warehouse.source_tables import EVALUATION_COLUMNS


def paired(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    """The two as float arrays; ValueError unless equally long, non-empty and without NaN."""
    y = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"need equally long, non-empty series (got {y.size} and {p.size})")
    if np.isnan(y).any() or np.isnan(p).any():
        raise ValueError("actual or predicted values contain NaN")
    return y, p


def regression_metrics(actual: np.ndarray | pd.Series, predicted: np.ndarray | pd.Series) -> dict:
    """MAE, RMSE and R² of `predicted` against `actual` (same length, no NaN)."""
    y, p = paired(actual, predicted)
    err = p - y
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "n": int(y.size),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "mean_actual": float(y.mean()),
        "bias": float(err.mean()),
    }


def evaluation_row(**values: object) -> pd.DataFrame:
    """The single row of `model_evaluation` every source's model run writes, its columns in the
    declared order (`source_tables.EVALUATION_COLUMNS`); a column missing or unknown is a
    ValueError naming it."""
    missing = [c for c in EVALUATION_COLUMNS if c not in values]
    unknown = [c for c in values if c not in EVALUATION_COLUMNS]
    if missing or unknown:
        raise ValueError(f"model_evaluation row: missing {missing}, unknown {unknown}")
    return pd.DataFrame([values])[list(EVALUATION_COLUMNS)]


@dataclass(frozen=True)
class PriceResponse:
    """The verdict over all curves, and one row per curve (`curves`)."""

    passed: bool
    curves: pd.DataFrame  # group columns + start, end, max_rise, tolerance, rises, falls
    n_curves: int
    n_rising: int  # curves with a rise above tolerance
    n_flat: int  # curves whose end is not below their start

    def summary(self) -> str:
        if self.passed:
            return f"all {self.n_curves} price curves fall from the lowest to the highest price"
        return (
            f"{self.n_rising} of {self.n_curves} curves rise with price beyond tolerance; "
            f"{self.n_flat} do not fall overall"
        )


def price_response(
    grid: pd.DataFrame,
    group: list[str],
    price: str = "price",
    predicted: str = "predicted",
    abs_tolerance: float = ABS_TOLERANCE,
    rel_tolerance: float = REL_TOLERANCE,
) -> PriceResponse:
    """Each curve (one per `group`) must not rise as `price` rises, and must fall overall.

    A curve passes when no prediction rebounds above the lowest one at a lower price by more
    than its tolerance, and its value at the highest price is below its value at the lowest
    (the model responds to price at all). `max_rise` is the largest rebound.
    """
    if grid.empty:
        raise ValueError("no predictions to check")
    df = grid.sort_values([*group, price])
    # rebound: how far each prediction climbs above the lowest one at any lower price
    running_min = df.groupby(group, sort=False)[predicted].cummin()
    df = df.assign(_rebound=df[predicted] - running_min)
    agg = df.groupby(group, sort=False).agg(
        start=(predicted, "first"),
        end=(predicted, "last"),
        peak=(predicted, "max"),
        max_rise=("_rebound", "max"),
    )
    agg["max_rise"] = agg["max_rise"].fillna(0.0).clip(lower=0.0)
    agg["tolerance"] = abs_tolerance + rel_tolerance * agg["peak"]
    agg["rises"] = agg["max_rise"] > agg["tolerance"]
    agg["falls"] = agg["end"] < agg["start"]
    curves = agg.reset_index()
    n_rising = int(curves["rises"].sum())
    n_flat = int((~curves["falls"]).sum())
    return PriceResponse(
        passed=n_rising == 0 and n_flat == 0,
        curves=curves,
        n_curves=len(curves),
        n_rising=n_rising,
        n_flat=n_flat,
    )


def degraded(latest_mae: float, reference_mae: float, threshold: float) -> bool:
    """True when `latest_mae` is worse than `reference_mae` by more than `threshold` (a ratio)."""
    if not np.isfinite(latest_mae) or not np.isfinite(reference_mae) or reference_mae <= 0:
        return False
    return latest_mae > reference_mae * (1.0 + threshold)
