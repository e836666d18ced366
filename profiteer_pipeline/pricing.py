"""Pricing maths: a price grid over a product's range, the revenue curve, the best price.

Pure numpy/pandas (no Dagster, no MindsDB): given predicted purchases at each grid price
(from the `sales_forecast` model), find the revenue-maximizing price and the expected gain over
the base price. The app's price explorer and the model's price-response check both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_POINTS = 21


class PricingError(ValueError):
    """Bad prices or predictions; the message names the field."""


def price_grid(
    min_price: float,
    max_price: float,
    points: int = DEFAULT_POINTS,
    *,
    include: float | None = None,
) -> np.ndarray:
    """`points` evenly spaced prices over [min_price, max_price], rounded to cents.

    `include` (e.g. the base price) is added to the grid when it lies inside the range, so the
    curve has an exact value there. Duplicates after rounding are dropped.
    """
    lo, hi = float(min_price), float(max_price)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0:
        raise PricingError(f"min_price must be a positive number, got {min_price}")
    if hi < lo:
        raise PricingError(f"max_price {max_price} is below min_price {min_price}")
    if points < 2:
        raise PricingError(f"points must be at least 2, got {points}")
    grid = np.linspace(lo, hi, points)
    if include is not None and lo <= float(include) <= hi:
        grid = np.append(grid, float(include))
    return np.unique(np.round(grid, 2))


def revenue_curve(prices: np.ndarray, purchases: np.ndarray) -> pd.DataFrame:
    """Columns price, purchases, revenue (= price x purchases), sorted by price."""
    p = np.asarray(prices, dtype=float)
    q = np.asarray(purchases, dtype=float)
    if p.shape != q.shape or p.size == 0:
        raise PricingError(f"need one predicted purchases value per price (got {q.size}, {p.size})")
    if not np.isfinite(q).all() or (q < 0).any():
        raise PricingError("predicted purchases must be finite and not negative")
    curve = pd.DataFrame({"price": p, "purchases": q, "revenue": p * q})
    return curve.sort_values("price", ignore_index=True)


@dataclass(frozen=True)
class PriceRecommendation:
    best_price: float
    best_purchases: float
    best_revenue: float
    base_price: float
    base_purchases: float
    base_revenue: float

    @property
    def gain(self) -> float:
        """Expected revenue gain per hour of the best price over the base price."""
        return self.best_revenue - self.base_revenue

    @property
    def gain_pct(self) -> float | None:
        return None if self.base_revenue <= 0 else 100.0 * self.gain / self.base_revenue


def value_at(curve: pd.DataFrame, price: float, column: str = "purchases") -> float:
    """`column` at `price`, linearly interpolated between grid prices (clamped at the ends)."""
    return float(np.interp(float(price), curve["price"].to_numpy(), curve[column].to_numpy()))


def recommend(curve: pd.DataFrame, base_price: float) -> PriceRecommendation:
    """The revenue-maximizing grid price (ties: the lower price) and the gain over `base_price`."""
    if curve.empty:
        raise PricingError("the revenue curve is empty")
    if not base_price > 0:
        raise PricingError(f"base_price must be > 0, got {base_price}")
    best = curve.loc[curve["revenue"].idxmax()]  # first maximum = lowest price on ties
    base_purchases = value_at(curve, base_price)
    return PriceRecommendation(
        best_price=float(best["price"]),
        best_purchases=float(best["purchases"]),
        best_revenue=float(best["revenue"]),
        base_price=float(base_price),
        base_purchases=base_purchases,
        base_revenue=float(base_price) * base_purchases,
    )
