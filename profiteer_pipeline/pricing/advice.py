"""Price advice from a predicted demand curve: the best price within the shop's guardrails, its
gain and whether the gain is larger than the model's error.

Pure numpy (no Dagster, no MindsDB, no Streamlit): the `price_recommendations` asset, the app's
simulation and Recommendations pages and the tests all call these functions, so the page shows
exactly what the asset stored.

- the grid: `GRID_POINTS` (41) evenly spaced prices over [min_price, max_price], plus the base
  and the current price (`grid.price_grid`, the one price grid);
- the curve it reads: the model's purchases on the one smoothing rule, the demand line where
  the curve falls (`curves.smoothed`);
- `advise`: the objective (revenue, or profit when a unit cost is known) maximized on the curve
  inside the bounds, then held by the shop's guardrails (`guardrails.bound`, as every source's
  per-product advice is), the gain against the current price, and the uncertainty band from the
  model's held-out error; a gain inside the band, or below the guardrails' minimum, is "no
  change recommended".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.pricing.grid import PricingError

if TYPE_CHECKING:
    import numpy as np  # imported in each function: importing this module costs no numpy

GRID_POINTS = 41
#: The prices the best one is searched among: this many, evenly over the curve's bounds.
SEARCH_POINTS = 2001


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
    guardrail: str = guardrails.NONE  # the guardrail that bound the best price
    min_gain_pct: float = 0.0  # a change must gain at least this % (the guardrails')

    @property
    def gain_pct(self) -> float | None:
        return None if self.current_value <= 0 else 100.0 * self.gain / self.current_value

    @property
    def changed(self) -> bool:
        return abs(self.best_price - self.current_price) >= 0.005

    @property
    def too_small(self) -> bool:
        """A gain, but below the guardrails' minimum (`min_gain_pct` of today's objective)."""
        return self.changed and self.gain > 0 and (self.gain_pct or 0.0) < self.min_gain_pct

    @property
    def confidence(self) -> str:
        """`high` (gain over twice the band), `medium` (over the band), `no change` (within it,
        below the guardrails' minimum gain, or the best price is the current one, or the curve
        does not fall), `unrated` (no held-out error known). A jagged curve (the model's own
        points far off its smoothing) is at most `medium`."""
        if not self.changed or self.gain <= 0 or self.too_small:
            return "no change"
        if self.band is None:
            return "unrated"
        if self.gain > 2 * self.band and not self.jagged:
            return "high"
        return "medium" if self.gain > self.band else "no change"

    @property
    def no_change_reason(self) -> str | None:
        """Why the price stays (None where a change is recommended)."""
        if self.confidence != "no change":
            return None
        if not self.falls:
            return (
                "The predicted purchases do not fall with the price, so no price is better "
                "supported than the current one."
            )
        if not self.changed or self.gain <= 0:
            return "Today's price already is the best one within the guardrails."
        if self.too_small:
            return f"The gain is below the {self.min_gain_pct:g} % a change must gain (guardrails)."
        return "The gain is within the model's error band."

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
    rails: guardrails.Guardrails = guardrails.DEFAULT,
    unit_cost: float | None = None,
    rel_error: float | None = None,
    model_purchases: np.ndarray | None = None,
    falls: bool = True,
) -> Advice:
    """The best price on the smoothed curve inside [min_price, max_price] (the catalog's bounds:
    the prices the shop draws from, so the prices tested, and those it allows), held by the
    shop's `rails` around the current price, against the current price; `guardrail` names the
    rail that bound it (the tested range where the curve's own optimum lies beyond the bounds).

    The objective is profit when `unit_cost` is given, else revenue. Ties go to the lower price.
    A curve that does not fall with the price (`falls` False: flat, or rising) has no best price
    but the current one: the data support no other.
    """
    import numpy as np

    p = np.asarray(prices, dtype=float)
    q = np.asarray(smoothed, dtype=float)
    if p.size == 0 or p.shape != q.shape:
        raise PricingError(f"need one smoothed value per price (got {q.size} for {p.size})")
    cur = float(current_price)
    cost = np.nan if unit_cost is None else float(unit_cost)
    bound_by = guardrails.NONE
    best = cur
    if falls:
        search = np.linspace(float(min_price), float(max_price), SEARCH_POINTS)
        i = int(np.argmax(value_of(search, np.interp(search, p, q), unit_cost)))
        bounds = np.array([float(min_price)]), np.array([float(max_price)])
        price, rail = guardrails.bound(
            search[i : i + 1], np.array([cur]), *bounds, rails, cost=np.array([cost]),
            catalog=bounds,
        )  # fmt: skip
        best, bound_by = float(price[0]), str(rail[0])
        if bound_by == guardrails.NONE and i in (0, SEARCH_POINTS - 1):
            bound_by = guardrails.TESTED_RANGE  # the curve's own optimum lies beyond its bounds
    best_q = float(np.interp(best, p, q))
    cur_q = float(np.interp(cur, p, q))
    best_value = float(value_of(best, best_q, unit_cost))
    current_value = float(value_of(cur, cur_q, unit_cost))
    raw = q if model_purchases is None else np.asarray(model_purchases, dtype=float)
    return Advice(
        objective="profit" if unit_cost else "revenue",
        best_price=best,
        best_purchases=best_q,
        best_value=best_value,
        best_revenue=best * best_q,
        current_price=cur,
        current_purchases=cur_q,
        current_value=current_value,
        current_revenue=cur * cur_q,
        gain=best_value - current_value,
        band=gain_band(best_value, current_value, rel_error),
        smoothing_error=float(np.max(np.abs(raw - q))) if raw.size else 0.0,
        jagged=rel_error is not None
        and bool(np.any(np.abs(raw - q) > 2 * rel_error * np.maximum(q, 1.0))),
        falls=falls,
        guardrail=bound_by if abs(best - cur) >= 0.005 else guardrails.NONE,
        min_gain_pct=rails.min_gain_pct,
    )
