"""The pure price-advice maths: grid, the one smoothing rule, price points, best price, band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from profiteer_pipeline.pricing import advice as pa
from profiteer_pipeline.pricing import curves, guardrails
from profiteer_pipeline.pricing.grid import PricingError, price_grid
from profiteer_pipeline.pricing.guardrails import Guardrails


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


def line(prices, purchases) -> np.ndarray:
    """The one smoothing rule (`curves.smoothed`) on one curve."""
    frame = pd.DataFrame({"product_id": "P", "price": prices, "units_per_day": purchases})
    return curves.smoothed(frame)["fit_units"].to_numpy()


def test_the_smoothing_is_the_demand_line_where_the_curve_falls():
    prices = price_grid(80, 120, pa.GRID_POINTS)
    truth = 50.0 - 0.3 * prices  # a straight demand line, 26 to 14 units
    rng = np.random.default_rng(1)
    noisy = truth + rng.normal(0, 1.0, truth.size)
    smooth = line(prices, noisy)
    assert np.all(np.diff(smooth) < 0)
    assert np.max(np.abs(smooth - truth)) < 1.0  # the noise (sd 1) mostly averaged away
    # a curve that rises with the price keeps the model's own points: no line, no optimum
    rising = 5.0 + 0.1 * prices
    assert line(prices, rising) == pytest.approx(rising)


def test_advise_finds_the_revenue_optimum_within_the_guardrails():
    base = 200.0
    prices = price_grid(170, 230, pa.GRID_POINTS, include=(base,))  # the catalog's ±15 %
    q = line(prices, shop_demand(prices, base))
    wide = Guardrails(max_step_pct=20)
    free = pa.advise(prices, q, min_price=170, max_price=230, current_price=base, rel_error=0.05,
                     rails=wide)  # fmt: skip
    # the line's own optimum lies below the bounds, so the lowest price stands, named; the true
    # optimum is 0.861 x base, and the bound earns within 0.2 % of its true revenue
    assert free.best_price == 170 and free.guardrail == guardrails.TESTED_RANGE
    true = shop_demand(np.array([170, 0.861 * base]), base) * [170, 0.861 * base]
    assert true[0] >= 0.998 * true[1]
    # the default step (±10 % from today's price) holds it at 180, and says so
    a = pa.advise(prices, q, min_price=170, max_price=230, current_price=base, rel_error=0.05)
    assert a.objective == "revenue"
    assert a.best_price == 180 and a.guardrail == guardrails.DEFAULT.step_label
    assert a.gain > 0 and a.band == pytest.approx(0.05 * np.hypot(a.best_value, a.current_value))
    assert a.confidence == "high" and a.recommended_price == a.best_price
    # the same curve with a noisy model: the gain is within the band, so no change
    noisy = pa.advise(prices, q, min_price=170, max_price=230, current_price=base, rel_error=1.0)
    assert noisy.confidence == "no change" and noisy.recommended_price == base
    # no held-out error known: unrated, not silently confident
    assert pa.advise(prices, q, min_price=170, max_price=230, current_price=base).confidence == (
        "unrated"
    )
    # a curve that does not fall has no best price but today's, whatever its steps suggest
    flat = pa.advise(prices, q, min_price=170, max_price=230, current_price=base, rel_error=0.05,
                     falls=False)  # fmt: skip
    assert flat.best_price == base and flat.gain == 0 and flat.confidence == "no change"
    assert flat.guardrail == guardrails.NONE
    # a gain below the guardrails' minimum is no change either
    assert a.gain_pct < 60
    small = pa.advise(prices, q, min_price=170, max_price=230, current_price=base, rel_error=0.05,
                      rails=Guardrails(min_gain_pct=60))  # fmt: skip
    assert small.best_price == a.best_price and small.confidence == "no change"
    assert small.recommended_price == base


def test_profit_with_a_unit_cost_moves_the_best_price_up():
    base = 200.0
    prices = price_grid(150, 250, pa.GRID_POINTS, include=(base,))
    q = shop_demand(prices, base)
    revenue = pa.advise(prices, q, min_price=150, max_price=250, current_price=base)
    profit = pa.advise(prices, q, min_price=150, max_price=250, current_price=base, unit_cost=150)
    assert profit.objective == "profit" and profit.best_price > revenue.best_price
    assert profit.best_value == pytest.approx((profit.best_price - 150) * profit.best_purchases)


@pytest.mark.parametrize(
    ("base", "expected", "bound_by"),
    [
        (10.5, 10.2, guardrails.TESTED_RANGE),  # revenue falls across the range: its lowest price
        (12.3, 10.59, guardrails.NONE),  # revenue peaks inside the range
    ],
)
def test_the_best_price_stays_inside_a_narrow_range(base, expected, bound_by):
    prices = price_grid(10.2, 10.8, pa.GRID_POINTS)
    q = shop_demand(prices, base)
    a = pa.advise(prices, q, min_price=10.2, max_price=10.8, current_price=10.5)
    # the expected price, independently: the most revenue on a fine grid of the range, revenue =
    # price x the shop's purchases at that price (interpolated between the curve's prices)
    fine = np.linspace(10.2, 10.8, 6001)
    revenue = fine * np.interp(fine, prices, q)
    assert round(float(fine[np.argmax(revenue)]), 2) == expected
    assert a.best_price == pytest.approx(expected, abs=0.005) and a.guardrail == bound_by
    assert a.best_purchases == pytest.approx(float(np.interp(a.best_price, prices, q)))


def test_elasticity_of_the_shop_curve_near_base():
    prices = price_grid(80, 120, 401)
    e = pa.elasticity(prices, shop_demand(prices, 100), 100)
    assert e == pytest.approx(-10, abs=0.5)  # about 10 % fewer purchases per 1 % of price


def test_a_jagged_curve_caps_the_confidence():
    base = 200.0
    prices = price_grid(170, 230, pa.GRID_POINTS, include=(base,))
    truth = 40.0 - 0.15 * prices  # a straight line: its smoothing is itself
    clean = pa.advise(prices, line(prices, truth), min_price=170, max_price=230,
                      current_price=base, rel_error=0.05, model_purchases=truth)  # fmt: skip
    assert not clean.jagged and clean.confidence == "high"
    spiky = truth.copy()
    spiky[5] += 15  # one prediction far above its neighbours
    rough = pa.advise(prices, line(prices, spiky), min_price=170, max_price=230,
                      current_price=base, rel_error=0.05, model_purchases=spiky)  # fmt: skip
    assert rough.jagged and rough.confidence == "medium"
