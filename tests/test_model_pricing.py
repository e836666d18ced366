"""Pricing maths: the price grid over a product's range, and its refusals."""

import numpy as np
import pytest

from profiteer_pipeline.pricing.grid import PricingError, price_grid


def test_price_grid_spans_the_range_in_cents():
    grid = price_grid(1000, 1400, 21)
    assert len(grid) == 21
    assert grid[0] == 1000 and grid[-1] == 1400
    assert np.allclose(np.diff(grid), 20)


def test_price_grid_includes_the_base_price_when_asked():
    grid = price_grid(440, 560, 21, include=(499,))
    assert 499 in grid and len(grid) == 22
    assert (np.diff(grid) > 0).all()
    assert len(price_grid(440, 560, 21, include=(700,))) == 21  # outside the range: not added


@pytest.mark.parametrize(
    "args, field",
    [((0, 10), "min_price"), ((10, 5), "max_price"), ((1, 2, 1), "points"), ((np.nan, 2), "min")],
)
def test_price_grid_refuses_bad_ranges(args, field):
    with pytest.raises(PricingError, match=field):
        price_grid(*args)
