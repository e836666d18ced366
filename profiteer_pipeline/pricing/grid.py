"""Pricing maths shared by the model and the app: the price grid over a product's range.

Pure numpy (no Dagster, no MindsDB); the curves and the advice read off them live in
`price_advice`.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    include: Iterable[float | None] = (),
    decimals: int = 2,
) -> np.ndarray:
    """`points` evenly spaced prices over [min_price, max_price], rounded to cents (or to
    `decimals`: an import's cheapest lines are priced below a cent apart), sorted.

    Each of `include` (the base price, today's) is added where it lies inside the range, so the
    curve has an exact value there. Duplicates after rounding are dropped. The one price grid:
    the shop's curves by time of day, every source's daily curves and the app's.
    """
    import numpy as np

    lo, hi = float(min_price), float(max_price)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0:
        raise PricingError(f"min_price must be a positive number, got {min_price}")
    if hi < lo:
        raise PricingError(f"max_price {max_price} is below min_price {min_price}")
    if points < 2:
        raise PricingError(f"points must be at least 2, got {points}")
    extra = [float(p) for p in include if p is not None and lo <= float(p) <= hi]
    return np.unique(np.round(np.concatenate([np.linspace(lo, hi, points), extra]), decimals))
