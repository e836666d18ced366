"""Price advice from a predicted demand curve: smoothing, price points, the best price, its gain
and whether the gain is larger than the model's error.

Pure numpy (no Dagster, no MindsDB, no Streamlit): the `price_recommendations` asset, the app's
simulation and Recommendations pages and the tests all call these functions, so the page shows
exactly what the asset stored.

- the grid: `GRID_POINTS` (41) evenly spaced prices over [min_price, max_price], plus the base
  and the current price (`grid.price_grid`, the one price grid);
- the curve it reads: the model's purchases on the one smoothing rule, the demand line where
  the curve falls (`curves.smoothed`);
- `price_points`: the candidate prices a shop would set (`.99` endings, whole units or cents);
- `advise`: the objective (revenue, or profit when a unit cost is known) maximized over the price
  points inside the bounds, the gain against the current price, and the uncertainty band from
  the model's held-out error; a gain inside the band is "no change recommended".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from profiteer_pipeline.pricing.grid import PricingError, price_grid

if TYPE_CHECKING:
    import numpy as np  # imported in each function: importing this module costs no numpy

GRID_POINTS = 41
ENDINGS = ("99", "whole", "cents")


def price_points(min_price: float, max_price: float, ending: str = "99") -> np.ndarray:
    """Every price point of `ending` inside [min_price, max_price] (cents: a 41-point grid)."""
    import numpy as np

    lo, hi = float(min_price), float(max_price)
    if ending == "cents":
        return price_grid(lo, hi, GRID_POINTS)
    if ending not in ENDINGS:
        raise PricingError(f"price ending must be one of {', '.join(ENDINGS)}, got {ending!r}")
    offset = 0.01 if ending == "99" else 0.0
    whole = np.arange(math.ceil(lo + offset - 1e-9), math.floor(hi + offset + 1e-9) + 1)
    points = np.round(whole - offset, 2)
    return points[(points >= lo - 1e-9) & (points <= hi + 1e-9)]


def elasticity(prices: np.ndarray, purchases: np.ndarray, at: float) -> float | None:
    """% change of purchases for +1 % of price at `at` (arc over ±1 %, on the curve given);
    None where purchases are zero."""
    import numpy as np

    p = np.asarray(prices, dtype=float)
    q = np.asarray(purchases, dtype=float)
    q0 = float(np.interp(at, p, q))
    if q0 <= 0:
        return None
    up, down = float(np.interp(at * 1.01, p, q)), float(np.interp(at * 0.99, p, q))
    return (up - down) / 2 / q0 * 100.0


@dataclass(frozen=True)
class Advice:
    """The recommendation for one curve. Money is per hour; `objective` is revenue or profit."""

    objective: str  # "revenue" | "profit"
    best_price: float
    best_purchases: float
    best_value: float  # the objective at the best price
    best_revenue: float
    current_price: float
    current_purchases: float
    current_value: float
    current_revenue: float
    gain: float  # best_value - current_value
    band: float | None  # the gain's uncertainty (`gain_band`), None: unknown
    smoothing_error: float  # largest |model - smoothed| purchases on the grid
    jagged: bool = False  # the smoothing moved a point by more than twice the model's error
    falls: bool = True  # the curve falls with the price (`curves.falls`); else no best price

    @property
    def gain_pct(self) -> float | None:
        return None if self.current_value <= 0 else 100.0 * self.gain / self.current_value

    @property
    def changed(self) -> bool:
        return abs(self.best_price - self.current_price) >= 0.005

    @property
    def confidence(self) -> str:
        """`high` (gain over twice the band), `medium` (over the band), `no change` (within it,
        or the best price is the current one, or the curve does not fall), `unrated` (no
        held-out error known). A jagged curve (the model's own points far off its smoothing) is
        at most `medium`."""
        if not self.changed or self.gain <= 0:
            return "no change"
        if self.band is None:
            return "unrated"
        if self.gain > 2 * self.band and not self.jagged:
            return "high"
        return "medium" if self.gain > self.band else "no change"

    @property
    def recommended_price(self) -> float:
        """The price to set: the best one, or the current one when the gain is within the noise."""
        return self.current_price if self.confidence == "no change" else self.best_price


def value_of(price: np.ndarray | float, purchases: np.ndarray | float, unit_cost: float | None):
    """The objective: revenue (price × purchases), or profit ((price − cost) × purchases)."""
    import numpy as np

    margin = np.asarray(price, dtype=float) - (unit_cost or 0.0)
    return margin * np.asarray(purchases, dtype=float)


def gain_band(best_value: float, current_value: float, rel_error: float | None) -> float | None:
    """The uncertainty of a gain per hour: the model's relative held-out error (RMSE of purchases
    ÷ mean purchases, latest 24 h) on the objective at each of the two prices, as independent
    errors. None when no held-out error is known."""
    if rel_error is None or not math.isfinite(rel_error) or rel_error < 0:
        return None
    return float(rel_error) * math.hypot(best_value, current_value)


def advise(
    prices: np.ndarray,
    smoothed: np.ndarray,
    *,
    min_price: float,
    max_price: float,
    current_price: float,
    ending: str = "99",
    unit_cost: float | None = None,
    rel_error: float | None = None,
    model_purchases: np.ndarray | None = None,
    falls: bool = True,
) -> Advice:
    """The best price point inside the bounds on the smoothed curve, against the current price.

    The objective is profit when `unit_cost` is given, else revenue. When no price point of
    `ending` lies inside the bounds, the grid prices stand in. Ties go to the lower price. A
    curve that does not fall with the price (`falls` False: flat, or rising) has no best price
    but the current one: the data support no other.
    """
    import numpy as np

    p = np.asarray(prices, dtype=float)
    q = np.asarray(smoothed, dtype=float)
    if p.size == 0 or p.shape != q.shape:
        raise PricingError(f"need one smoothed value per price (got {q.size} for {p.size})")
    candidates = price_points(min_price, max_price, ending)
    if candidates.size == 0:
        candidates = p
    if not falls:
        candidates = np.asarray([float(current_price)])
    cand_q = np.interp(candidates, p, q)
    values = value_of(candidates, cand_q, unit_cost)
    i = int(np.argmax(values))  # first maximum: the lower price on ties
    cur = float(current_price)
    cur_q = float(np.interp(cur, p, q))
    best = float(candidates[i])
    raw = q if model_purchases is None else np.asarray(model_purchases, dtype=float)
    return Advice(
        objective="profit" if unit_cost else "revenue",
        best_price=best,
        best_purchases=float(cand_q[i]),
        best_value=float(values[i]),
        best_revenue=best * float(cand_q[i]),
        current_price=cur,
        current_purchases=cur_q,
        current_value=float(value_of(cur, cur_q, unit_cost)),
        current_revenue=cur * cur_q,
        gain=float(values[i] - value_of(cur, cur_q, unit_cost)),
        band=gain_band(float(values[i]), float(value_of(cur, cur_q, unit_cost)), rel_error),
        smoothing_error=float(np.max(np.abs(raw - q))) if raw.size else 0.0,
        jagged=rel_error is not None
        and bool(np.any(np.abs(raw - q) > 2 * rel_error * np.maximum(q, 1.0))),
        falls=falls,
    )
