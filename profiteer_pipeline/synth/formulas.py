"""The spec's per-row formulas, vectorized over a chunk of hours x all products.

Per product and hour (SEED-GENERATOR.md), with ``h`` the hour and ``cp`` the category popularity
(the rating comes from ``rating_walk``; the constants from ``constants``):

1. ``rf = ((rating - 2) / 3) ** 0.9 * 1.8``
2. ``popularity_factor = cp * rf * (U(0.95, 1.05) * cp)``. **cp enters twice**: that is the
   original code's behaviour and we keep it (so Laptops get 1.21x, Consoles 0.81x). The column is
   rounded to 2 decimals; the unrounded value feeds the views.
3. price by strategy (aggressive U(0.85b, 1.05b), moderate N(b, 0.05b), random U(0.9b, 1.1b)),
   clamped to [min_price, max_price], rounded to 2 decimals.
4. views ``max(100, int(base_views * popularity_factor * time_factor))``, ``base_views`` an integer
   in [8000, 12000] drawn once per (seed, product).
5. cart adds ``max(1, int(views * U(0.045, 0.055) * rf))``.
6. purchases ``max(1, int(cart_adds * U(0.16, 0.19) * demand))``,
   ``demand = 1 / (1 + exp(2 * (price - base) / (0.1 * base)))`` (on the rounded price).

The random draws come from ``streams`` (one key per product, hour and stream).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from profiteer_pipeline.synth.constants import (
    BASE_VIEWS_RANGE,
    CART_FLOOR,
    CART_RATE,
    DEMAND_STEEPNESS,
    MODERATE_SIGMA,
    POPULARITY_DECIMALS,
    POPULARITY_NOISE,
    PRICE_DECIMALS,
    PRICE_SENSITIVITY,
    PURCHASE_FLOOR,
    PURCHASE_RATE,
    RATING_MAX,
    RATING_MIN,
    RF_EXPONENT,
    RF_SCALE,
    STRATEGY_BOUNDS,
    VIEWS_FLOOR,
)
from profiteer_pipeline.synth.models import Product, SalesRequest
from profiteer_pipeline.synth.rating_walk import MAX_TENTHS, MIN_TENTHS, start_tenths
from profiteer_pipeline.synth.streams import (
    LOW32,
    SHIFT32,
    STREAMS,
    TO_UNIT,
    draws,
    keyed_bits,
    product_keys,
    uniform21,
)
from profiteer_pipeline.synth.time_of_day import time_factors

#: rf by rating in tenths (index MIN_TENTHS..MAX_TENTHS; below unused), exactly as the per-row
#: formula computes it.
RF_BY_TENTHS = np.array(
    [
        ((max(t, MIN_TENTHS) / 10 - RATING_MIN) / (RATING_MAX - RATING_MIN)) ** RF_EXPONENT
        * RF_SCALE
        for t in range(MAX_TENTHS + 1)
    ]
)


class ProductArrays:
    """Per-product constants of a request as arrays, in product_id order."""

    def __init__(self, products: Sequence[Product], req: SalesRequest):
        self.products = sorted(products, key=lambda p: p.product_id)
        ps = self.products
        self.ids = [p.product_id for p in ps]
        self.pkeys = product_keys(req.seed, self.ids)
        self.base = np.array([p.base_price for p in ps])
        self.low = np.array([p.min_price for p in ps])
        self.high = np.array([p.max_price for p in ps])
        self.cp = np.array([req.popularity(p.category) for p in ps])
        self.start_tenths = start_tenths([p.base_rating for p in ps])
        u, _ = draws(self.pkeys, np.zeros(1, dtype=np.int64), STREAMS["base_views"])  # no hour
        lo, hi = BASE_VIEWS_RANGE
        self.base_views = lo + np.floor(u[0] * (hi - lo + 1))
        strategy = np.array([p.price_strategy for p in ps])
        bounds = np.array([STRATEGY_BOUNDS.get(s, (1.0, 1.0)) for s in strategy]).reshape(-1, 2)
        self.price_low = self.base * bounds[:, 0]
        self.price_high = self.base * bounds[:, 1]
        self.price_scale = (self.price_high - self.price_low) * TO_UNIT
        self.moderate = np.flatnonzero(strategy == "moderate")
        self.sensitivity = PRICE_SENSITIVITY * self.base


def fill_rows(
    cat: ProductArrays,
    hour: np.ndarray,
    tenths: np.ndarray,
    rating: np.ndarray,
    popularity: np.ndarray,
    price: np.ndarray,
    views_out: np.ndarray,
    cart_out: np.ndarray,
    purchases_out: np.ndarray,
) -> None:
    """The spec's formulas for a chunk of hours x all products, written into the output slices."""
    np.divide(tenths, 10, out=rating)
    rf = RF_BY_TENTHS.take(tenths)

    bits = keyed_bits(cat.pkeys, hour, STREAMS["demand"])
    noise = uniform21(bits, 0, *POPULARITY_NOISE)
    noise *= cat.cp
    pop = cat.cp * rf
    pop *= noise  # cp * rf * (U * cp): cp enters twice, as in the original
    np.round(pop, POPULARITY_DECIMALS, out=popularity)
    views = np.multiply(cat.base_views, pop, out=noise)
    views *= time_factors(hour)[:, None]
    np.floor(views, out=views)
    np.maximum(views, VIEWS_FLOOR, out=views)
    views_out[...] = views
    cart = uniform21(bits, 1, *CART_RATE)
    cart *= views
    cart *= rf
    np.floor(cart, out=cart)
    np.maximum(cart, CART_FLOOR, out=cart)
    cart_out[...] = cart

    raw = _prices(cat, hour)
    np.maximum(raw, cat.low[:, None], out=raw)
    np.minimum(raw, cat.high[:, None], out=raw)
    np.round(raw.T, PRICE_DECIMALS, out=price)
    demand = np.subtract(price, cat.base, out=noise)
    demand *= DEMAND_STEEPNESS
    demand /= cat.sensitivity
    np.exp(demand, out=demand)
    demand += 1.0
    np.divide(1.0, demand, out=demand)
    buy = uniform21(bits, 2, *PURCHASE_RATE)
    buy *= cart
    buy *= demand
    np.floor(buy, out=buy)
    np.maximum(buy, PURCHASE_FLOOR, out=buy)
    purchases_out[...] = buy


def _prices(cat: ProductArrays, hour: np.ndarray) -> np.ndarray:
    """Unclamped prices by strategy, laid out (products, hours) so a strategy's rows are contiguous.

    u1 is the high 32 bits of the price draw, u2 (moderate only) the low 32 bits.
    """
    bits = keyed_bits(cat.pkeys, hour, STREAMS["price"], by_product=True)
    high = (bits >> SHIFT32).astype(np.float64)
    # low + (high - low) * u1, with u1's 2**-32 folded into the span (exact: a power of two).
    price = high * cat.price_scale[:, None]
    price += cat.price_low[:, None]
    if cat.moderate.size:
        m = cat.moderate
        u1 = high[m] * TO_UNIT
        u2 = (bits[m] & LOW32).astype(np.float64)
        u2 *= 2.0 * np.pi * TO_UNIT
        # Box-Muller: N(base, 0.05 base) from the same two uniforms (1 - u1 is in (0, 1]).
        z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(u2)
        price[m] = cat.base[m, None] + (MODERATE_SIGMA * cat.base[m, None]) * z
    return price
