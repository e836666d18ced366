"""The pure price-advice maths: grid, monotone smoothing, price points, best price, band."""

from __future__ import annotations

import math

import numpy as np
import pytest

from profiteer_pipeline.pricing import advice as pa
from profiteer_pipeline.pricing.grid import PricingError, price_grid


def shop_demand(prices, base, peak=40.0):
    """The simulated shop's own price response (STACK-NOTES): steep around the base price."""
    return peak / (1 + np.exp(20 * (np.asarray(prices) / base - 1)))


def test_the_grid_has_41_points_plus_base_and_current():
    grid = price_grid(80.0, 120.0, pa.GRID_POINTS, include=(100.37, 93.11, 500.0))
    assert grid[0] == 80.0 and grid[-1] == 120.0
    assert 100.37 in grid and 93.11 in grid and 500.0 not in grid  # outside: left out
    assert len(grid) == 43 and np.all(np.diff(grid) > 0)
    with pytest.raises(PricingError, match="max_price"):
        price_grid(10, 5)


def test_smoothing_never_rises_and_follows_a_monotone_curve():
    prices = price_grid(80, 120, pa.GRID_POINTS)
    truth = shop_demand(prices, 100)
    rng = np.random.default_rng(1)
    jagged = truth + rng.normal(0, 1.0, truth.size)
    smooth = pa.monotone_smooth(jagged)
    assert np.all(np.diff(smooth) <= 1e-12)
    assert np.max(np.abs(smooth - truth)) < 3.0
    already = shop_demand(prices, 100)
    assert np.allclose(pa.isotonic_decreasing(already), already)


def test_price_points():
    assert pa.price_points(9.5, 12.2).tolist() == [9.99, 10.99, 11.99]
    assert pa.price_points(9.5, 12.2, "whole").tolist() == [10.0, 11.0, 12.0]
    with pytest.raises(PricingError, match="ending"):
        pa.price_points(1, 2, "50")


def test_advise_finds_the_revenue_optimum_about_13_percent_below_base():
    base = 200.0
    prices = price_grid(150, 250, pa.GRID_POINTS, include=(base,))
    q = pa.monotone_smooth(shop_demand(prices, base))
    a = pa.advise(prices, q, min_price=150, max_price=250, current_price=base, rel_error=0.05)
    assert a.objective == "revenue"
    assert round(a.best_price * 100) % 100 == 99  # a .99 price point
    assert 0.84 * base <= a.best_price <= 0.9 * base
    assert a.gain > 0 and a.band == pytest.approx(0.05 * np.hypot(a.best_value, a.current_value))
    assert a.confidence == "high" and a.recommended_price == a.best_price
    # the same curve with a noisy model: the gain is within the band, so no change
    noisy = pa.advise(prices, q, min_price=150, max_price=250, current_price=base, rel_error=1.0)
    assert noisy.confidence == "no change" and noisy.recommended_price == base
    # no held-out error known: unrated, not silently confident
    assert pa.advise(prices, q, min_price=150, max_price=250, current_price=base).confidence == (
        "unrated"
    )


def test_profit_with_a_unit_cost_moves_the_best_price_up():
    base = 200.0
    prices = price_grid(150, 250, pa.GRID_POINTS, include=(base,))
    q = shop_demand(prices, base)
    revenue = pa.advise(prices, q, min_price=150, max_price=250, current_price=base)
    profit = pa.advise(prices, q, min_price=150, max_price=250, current_price=base, unit_cost=150)
    assert profit.objective == "profit" and profit.best_price > revenue.best_price
    assert profit.best_value == pytest.approx((profit.best_price - 150) * profit.best_purchases)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (10.5, 10.2),  # revenue falls across the whole range: its lowest grid price
        (12.3, 10.59),  # revenue peaks inside the range, at a price no .99 ending reaches
    ],
)
def test_bounds_are_respected_and_a_narrow_range_falls_back_to_the_grid(base, expected):
    prices = price_grid(10.2, 10.8, pa.GRID_POINTS)
    assert pa.price_points(10.2, 10.8).size == 0  # no .99 inside: the grid must stand in
    q = shop_demand(prices, base)
    a = pa.advise(prices, q, min_price=10.2, max_price=10.8, current_price=10.5)
    # the expected price, independently: the grid price with the most revenue (first on ties),
    # revenue = price x the shop's purchases at that price
    revenue = [float(p) * 40.0 / (1 + math.exp(20 * (float(p) / base - 1))) for p in prices]
    best = float(prices[revenue.index(max(revenue))])
    assert best == expected
    assert a.best_price == expected
    assert a.best_purchases == pytest.approx(40.0 / (1 + math.exp(20 * (expected / base - 1))))


def test_elasticity_of_the_shop_curve_near_base():
    prices = price_grid(80, 120, 401)
    e = pa.elasticity(prices, shop_demand(prices, 100), 100)
    assert e == pytest.approx(-10, abs=0.5)  # about 10 % fewer purchases per 1 % of price


def test_a_jagged_curve_caps_the_confidence():
    base = 200.0
    prices = price_grid(150, 250, pa.GRID_POINTS, include=(base,))
    truth = shop_demand(prices, base)
    smooth = pa.monotone_smooth(truth)
    clean = pa.advise(prices, smooth, min_price=150, max_price=250, current_price=base,
                      rel_error=0.05, model_purchases=truth)  # fmt: skip
    assert not clean.jagged and clean.confidence == "high"
    spiky = truth.copy()
    spiky[5] += 15  # one prediction far above its neighbours
    s2 = pa.monotone_smooth(spiky)
    rough = pa.advise(prices, s2, min_price=150, max_price=250, current_price=base,
                      rel_error=0.05, model_purchases=spiky)  # fmt: skip
    assert rough.jagged and rough.confidence == "medium"
