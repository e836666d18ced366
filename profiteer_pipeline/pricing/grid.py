"""Pricing maths shared by the model and the app: the price grid over a product's range.

Pure numpy (no Dagster, no MindsDB); the curves and the advice read off them live in
`price_advice`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported in each function: importing this module costs no numpy

DEFAULT_POINTS = 21


class PricingError(ValueError):
    """Bad prices or predictions; the message names the field."""


def price_grid(
    min_price: float,
    max_price: float,
    points: int = DEFAULT_POINTS,
    *,
    include: float | None = None,
    decimals: int = 2,
) -> np.ndarray:
    """`points` evenly spaced prices over [min_price, max_price], rounded to cents (or to
    `decimals`: an import's cheapest lines are priced below a cent apart).

    `include` (e.g. the base price) is added to the grid when it lies inside the range, so the
    curve has an exact value there. Duplicates after rounding are dropped.
    """
    import numpy as np

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
    return np.unique(np.round(grid, decimals))
