"""Pricing maths: grid, revenue curve, the revenue-maximizing price and the gain over base."""

import numpy as np
import pytest

from profiteer_pipeline.pricing import (
    PricingError,
    price_grid,
    recommend,
    revenue_curve,
    value_at,
)


def test_price_grid_spans_the_range_in_cents():
    grid = price_grid(1000, 1400, 21)
    assert len(grid) == 21
    assert grid[0] == 1000 and grid[-1] == 1400
    assert np.allclose(np.diff(grid), 20)


def test_price_grid_includes_the_base_price_when_asked():
    grid = price_grid(440, 560, 21, include=499)
    assert 499 in grid and len(grid) == 22
    assert (np.diff(grid) > 0).all()
    assert len(price_grid(440, 560, 21, include=700)) == 21  # outside the range: not added


@pytest.mark.parametrize(
    "args, field",
    [((0, 10), "min_price"), ((10, 5), "max_price"), ((1, 2, 1), "points"), ((np.nan, 2), "min")],
)
def test_price_grid_refuses_bad_ranges(args, field):
    with pytest.raises(PricingError, match=field):
        price_grid(*args)


def test_revenue_curve_and_best_price():
    prices = np.array([80.0, 90.0, 100.0, 110.0, 120.0])
    purchases = np.array([100.0, 95.0, 80.0, 50.0, 20.0])  # revenue 8000, 8550, 8000, 5500, 2400
    curve = revenue_curve(prices[::-1], purchases[::-1])  # any order in, sorted out
    assert curve["price"].tolist() == prices.tolist()
    rec = recommend(curve, base_price=100.0)
    assert rec.best_price == 90.0 and rec.best_revenue == 8550.0
    assert rec.base_revenue == 8000.0
    assert rec.gain == 550.0
    assert rec.gain_pct == pytest.approx(6.875)


def test_ties_pick_the_lower_price_and_base_is_interpolated():
    curve = revenue_curve(np.array([10.0, 20.0]), np.array([10.0, 5.0]))  # revenue 100, 100
    rec = recommend(curve, base_price=15.0)
    assert rec.best_price == 10.0
    assert value_at(curve, 15.0) == 7.5
    assert rec.base_revenue == 15.0 * 7.5


def test_revenue_curve_refuses_bad_predictions():
    with pytest.raises(PricingError):
        revenue_curve(np.array([1.0, 2.0]), np.array([1.0]))
    with pytest.raises(PricingError, match="negative"):
        revenue_curve(np.array([1.0, 2.0]), np.array([1.0, -1.0]))
