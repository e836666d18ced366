"""The generator against a slow, obviously-correct per-row reference written from SEED-GENERATOR.md.

Two comparisons:
- exact: the reference fed the same keyed uniforms (the documented counter-based scheme,
  re-implemented here with Python integers) must give the same rows, field for field;
- statistical: the reference fed Python's own `random` module (as the original was) must give
  the same per-bucket means, price distributions, floors and purchase response.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from profiteer_pipeline.synth import (
    DEFAULT_CATEGORY_POPULARITY,
    RECORD_FIELDS,
    Product,
    SalesRequest,
    generate_sales,
    load_default_catalog,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)  # a rating epoch anchor

# --- the reference --------------------------------------------------------------------------------


def uniform(a: float, b: float, u: float) -> float:
    """What `random.uniform(a, b)` computes from its draw u."""
    return a + (b - a) * u


def time_of_day(hour: int) -> tuple[str, float]:
    if 6 <= hour <= 11:
        return "Morning", 0.8
    if 12 <= hour <= 17:
        return "Afternoon", 1.5
    if 18 <= hour <= 21:
        return "Evening", 1.0
    return "Overnight", 0.5


class KeyedDraws:
    """The generator's documented scheme: SplitMix64 finaliser of (seed, product, hour, stream) keys."""

    MASK = 2**64 - 1
    STREAMS = {"rating": 1, "demand": 2, "price": 3, "base_views": 5}

    def __init__(self, seed: int):
        self.seed_key = self.mix((seed % 2**64) ^ 0x9E3779B97F4A7C15)

    @classmethod
    def mix(cls, x: int) -> int:
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & cls.MASK
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & cls.MASK
        return x ^ (x >> 31)

    def bits(self, stream: str, product_id: str, hour: int) -> int:
        pid = int.from_bytes(hashlib.blake2b(product_id.encode(), digest_size=8).digest(), "little")
        pkey = self.mix(pid ^ self.seed_key)
        hkey = self.mix(
            (((hour % 2**64) * 0x9E3779B97F4A7C15) & self.MASK) ^ self.mix(self.STREAMS[stream])
        )
        return self.mix(hkey ^ pkey)

    def __call__(self, stream: str, product_id: str, hour: int) -> tuple[float, ...]:
        """price: two 32-bit fractions; demand: three 21-bit fractions; rating: one 32-bit
        fraction u per hour (two hours per draw) giving the gate u and the step's uniform u / 0.1."""
        if stream == "rating":
            bits = self.bits(stream, product_id, hour // 2)
            u = ((bits >> 32) if hour % 2 == 0 else (bits & 0xFFFFFFFF)) / 2**32
            return u, u / 0.1
        bits = self.bits(stream, product_id, hour)
        if stream == "demand":
            return tuple(((bits >> shift) & 0x1FFFFF) / 2**21 for shift in (43, 22, 1))
        return (bits >> 32) / 2**32, (bits & 0xFFFFFFFF) / 2**32

    def base_views(self, product_id: str) -> int:
        return 8000 + math.floor(self("base_views", product_id, 0)[0] * 4001)

    def gauss(self, mu: float, sigma: float, u1: float, u2: float) -> float:
        return mu + sigma * (math.sqrt(-2.0 * math.log1p(-u1)) * math.cos(2.0 * math.pi * u2))


class PythonDraws:
    """Independent randomness from Python's `random`, as the original generator used."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def __call__(self, stream: str, product_id: str, hour: int) -> tuple[float, ...]:
        return self.rng.random(), self.rng.random(), self.rng.random()

    def base_views(self, product_id: str) -> int:
        return self.rng.randint(8000, 12000)

    def gauss(self, mu: float, sigma: float, u1: float, u2: float) -> float:
        return self.rng.gauss(mu, sigma)


def reference(products, start: datetime, hours: int, draws, popularity=None) -> pd.DataFrame:
    """Row by row, straight from the spec (plus our documented weekly rating epochs)."""
    popularity = DEFAULT_CATEGORY_POPULARITY if popularity is None else popularity
    first = int((start - EPOCH).total_seconds()) // 3600
    rows = []
    for p in sorted(products, key=lambda p: p.product_id):
        base_views = draws.base_views(p.product_id)
        cp = popularity.get(p.category, 1.0)
        b = p.base_price
        anchor = first - (first - 96) % 168  # Monday 00:00 UTC at or before the first hour
        rating = None
        for hour in range(anchor, first + hours):
            if (hour - 96) % 168 == 0:
                rating = round(min(5.0, max(2.0, p.base_rating)), 1)
            gate, step = draws("rating", p.product_id, hour)[:2]
            if gate < 0.1:
                rating = round(min(5.0, max(2.0, rating + uniform(-0.2, 0.2, step))), 1)
            if hour < first:
                continue
            rf = ((rating - 2) / 3) ** 0.9 * 1.8
            u_pop, u_cart, u_buy = draws("demand", p.product_id, hour)[:3]
            pf = cp * rf * (uniform(0.95, 1.05, u_pop) * cp)
            u1, u2 = draws("price", p.product_id, hour)[:2]
            if p.price_strategy == "aggressive":
                price = uniform(b * 0.85, b * 1.05, u1)
            elif p.price_strategy == "moderate":
                price = draws.gauss(b, b * 0.05, u1, u2)
            else:
                price = uniform(b * 0.9, b * 1.1, u1)
            price = round(min(p.max_price, max(p.min_price, price)), 2)
            stamp = EPOCH + timedelta(hours=hour)
            bucket, time_factor = time_of_day(stamp.hour)
            views = max(100, int(base_views * pf * time_factor))
            cart_adds = max(1, int(views * uniform(0.045, 0.055, u_cart) * rf))
            demand = 1 / (1 + math.exp(2.0 * (price - b) / (0.1 * b)))
            purchases = max(1, int(cart_adds * uniform(0.16, 0.19, u_buy) * demand))
            rows.append(
                {
                    "timestamp": stamp,
                    "product_id": p.product_id,
                    "product_name": p.product_name,
                    "product_image": p.product_image,
                    "category": p.category,
                    "price_strategy": p.price_strategy,
                    "category_popularity": cp,
                    "base_price": b,
                    "current_price": price,
                    "popularity_factor": round(pf, 2),
                    "rating": rating,
                    "time_of_day_bucket": bucket,
                    "views": views,
                    "cart_adds": cart_adds,
                    "purchases": purchases,
                }
            )
    frame = pd.DataFrame(rows, columns=list(RECORD_FIELDS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    return frame.sort_values(["timestamp", "product_id"], ignore_index=True)


def make(pid, category="Laptops", strategy="random", base=1000.0, low=None, high=None, rating=4.2):
    return Product(
        product_id=pid,
        product_name=f"Product {pid}",
        category=category,
        base_price=base,
        base_rating=rating,
        price_strategy=strategy,
        min_price=low if low is not None else base * 0.5,
        max_price=high if high is not None else base * 1.5,
    )


# --- exact ------------------------------------------------------------------------------------------


def test_vectorized_equals_reference_row_by_row():
    catalog = load_default_catalog() + [
        make("X-unknown", category="Tablets", strategy="moderate"),
        make("X-floor", rating=2.0, strategy="aggressive"),
        make("X-top", rating=5.0, category="Consoles"),
        make("X-clamped", strategy="moderate", low=990.0, high=1010.0),
        make("X-odd", rating=3.45, base=12.34, low=11.0, high=13.0),
    ]
    start = datetime(2026, 1, 7, 19, tzinfo=UTC)  # mid-week, crossing a Monday anchor
    seed = 12345
    got = generate_sales(SalesRequest(hours=300, products=catalog, start=start, seed=seed))
    want = reference(catalog, start, 300, KeyedDraws(seed))
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)


def test_reference_with_custom_popularity():
    catalog = load_default_catalog()[::4]
    table = {"Laptops": 1.3, "Consoles": 0.5}
    start = datetime(2026, 2, 1, tzinfo=UTC)
    got = generate_sales(
        {"hours": 30, "products": catalog, "start": start, "seed": 7, "category_popularity": table}
    )
    want = reference(catalog, start, 30, KeyedDraws(7), popularity=table)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)


# --- statistical ------------------------------------------------------------------------------------

STRATEGIES = ("aggressive", "moderate", "random")
CATEGORIES = ("Laptops", "Pre-Built PC", "Consoles", "Tablets")


@pytest.fixture(scope="module")
def population() -> list[Product]:
    """240 products over the categories (one unknown) and strategies, realistic price ranges."""
    rng = random.Random(99)
    products = []
    for i in range(240):
        base = round(rng.uniform(200, 3000), 2)
        products.append(
            make(
                f"S{i:03d}",
                category=CATEGORIES[i % 4],
                strategy=STRATEGIES[i % 3],
                base=base,
                low=round(base * 0.88, 2),
                high=round(base * 1.12, 2),
                rating=round(rng.uniform(3.5, 4.9), 1),
            )
        )
    return products


@pytest.fixture(scope="module")
def week(population) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One week of the population from the generator and from the reference with `random`."""
    got = generate_sales(SalesRequest(hours=168, products=population, start=MONDAY, seed=3))
    want = reference(population, MONDAY, 168, PythonDraws(4))
    return got, want


@pytest.mark.parametrize("column", ["views", "cart_adds", "purchases"])
def test_bucket_means_match_the_reference(week, column):
    got, want = week
    mean_got = got.groupby("time_of_day_bucket")[column].mean()
    mean_want = want.groupby("time_of_day_bucket")[column].mean()
    assert set(mean_got.index) == {"Overnight", "Morning", "Afternoon", "Evening"}
    relative = (mean_got / mean_want - 1).abs()
    assert (relative < 0.04).all(), pd.DataFrame({"got": mean_got, "want": mean_want})


def test_conversion_rates_match_the_reference(week):
    """cart_adds / (views * rf) ~ U(0.045, 0.055) and purchases / (cart_adds * demand) ~ U(0.16, 0.19)."""

    def rates(frame):
        rf = ((frame["rating"] - 2) / 3) ** 0.9 * 1.8
        b = frame["base_price"]
        demand = 1 / (1 + np.exp(2.0 * (frame["current_price"] - b) / (0.1 * b)))
        ok = frame["cart_adds"] >= 200
        cart = (frame["cart_adds"] + 0.5) / (frame["views"] * rf)
        buy = (frame["purchases"] + 0.5) / (frame["cart_adds"] * demand)
        return cart[ok].mean(), buy[ok].mean()

    (cart_got, buy_got), (cart_want, buy_want) = rates(week[0]), rates(week[1])
    assert cart_got == pytest.approx(0.05, rel=0.005)
    assert cart_got == pytest.approx(cart_want, rel=0.005)
    assert buy_got == pytest.approx(0.175, rel=0.01)
    assert buy_got == pytest.approx(buy_want, rel=0.01)


def test_rating_walk_matches_the_reference(week, population):
    """About 7.5% of hours move (10% chance of a step, 3 in 4 steps round to +-0.1 or +-0.2)."""

    def moves(frame):
        ordered = frame.sort_values(["product_id", "timestamp"])
        delta = ordered.groupby("product_id")["rating"].diff().dropna().round(1)
        return delta[delta != 0]

    got, want = moves(week[0]), moves(week[1])
    transitions = len(population) * 167
    assert len(got) / transitions == pytest.approx(0.075, abs=0.006)
    assert len(got) / transitions == pytest.approx(len(want) / transitions, abs=0.008)
    assert set(got.abs()) <= {0.1, 0.2}
    assert (got.abs() == 0.1).mean() == pytest.approx(2 / 3, abs=0.04)
    assert got.mean() == pytest.approx(0.0, abs=0.02)
    # Each walk starts from base_rating at the Monday 00:00 anchor (one step at most).
    first = week[0][week[0]["timestamp"] == MONDAY].set_index("product_id")["rating"]
    base = pd.Series({p.product_id: p.base_rating for p in population})
    assert ((first - base[first.index]).abs() <= 0.2 + 1e-9).all()
    assert ((first - base[first.index]).abs() > 1e-9).mean() < 0.2


def test_bucket_time_factors(week):
    got, _ = week
    mean = got.groupby("time_of_day_bucket")["views"].mean()
    for bucket, factor in {"Morning": 0.8, "Afternoon": 1.5, "Evening": 1.0}.items():
        assert mean[bucket] / mean["Overnight"] == pytest.approx(factor / 0.5, rel=0.02)
    hours = got["timestamp"].dt.hour
    assert set(hours[got["time_of_day_bucket"] == "Overnight"]) == {22, 23, 0, 1, 2, 3, 4, 5}
    assert set(hours[got["time_of_day_bucket"] == "Morning"]) == set(range(6, 12))
    assert set(hours[got["time_of_day_bucket"] == "Afternoon"]) == set(range(12, 18))
    assert set(hours[got["time_of_day_bucket"] == "Evening"]) == set(range(18, 22))


def test_popularity_and_rating_distributions_match(week):
    got, want = week
    for column in ("popularity_factor", "rating"):
        assert got[column].mean() == pytest.approx(want[column].mean(), rel=0.02)
        assert got[column].std() == pytest.approx(want[column].std(), rel=0.15)
    by_category = got.groupby("category")["popularity_factor"].mean()
    ref_by_category = want.groupby("category")["popularity_factor"].mean()
    assert (abs(by_category / ref_by_category - 1) < 0.04).all()


def test_cp_enters_twice(week):
    """popularity_factor = cp * rf * (U(0.95, 1.05) * cp): the original's quirk, kept on purpose."""
    got, _ = week
    rf = ((got["rating"] - 2) / 3) ** 0.9 * 1.8
    ok = rf > 0.5
    noise = got["popularity_factor"][ok] / (got["category_popularity"][ok] ** 2 * rf[ok])
    assert noise.min() > 0.95 - 0.01 and noise.max() < 1.05 + 0.01
    assert noise.mean() == pytest.approx(1.0, abs=0.01)


def test_base_views_range(week):
    got, _ = week
    # At rating 5 in the afternoon: views = base_views * cp^2 * 1.8 * U * 1.5; over the week each
    # product's largest normalised views approach its base_views, which lie in [8000, 12000].
    normalised = got["views"] / (got["popularity_factor"] * 1.5)
    afternoon = got["time_of_day_bucket"] == "Afternoon"
    per_product = normalised[afternoon].groupby(got["product_id"][afternoon]).median()
    assert per_product.min() > 8000 * 0.98 and per_product.max() < 12000 * 1.02
    assert per_product.max() - per_product.min() > 3000  # drawn across the range, not constant


def test_strategy_price_bounds():
    products = [make(f"B{s}{i}", strategy=s, base=1000.0 + i) for s in STRATEGIES for i in range(4)]
    frame = generate_sales(SalesRequest(hours=1000, products=products, start=MONDAY))
    ratio = frame["current_price"] / frame["base_price"]
    for strategy, (low, high, mean) in {
        "aggressive": (0.85, 1.05, 0.95),
        "random": (0.9, 1.1, 1.0),
    }.items():
        r = ratio[frame["price_strategy"] == strategy]
        assert r.min() >= low - 1e-4 and r.max() <= high + 1e-4
        assert r.min() < low + 0.005 and r.max() > high - 0.005  # the whole range is used
        assert r.mean() == pytest.approx(mean, abs=0.005)
        assert r.std() == pytest.approx((high - low) / math.sqrt(12), rel=0.05)
    r = ratio[frame["price_strategy"] == "moderate"]
    assert r.mean() == pytest.approx(1.0, abs=0.003)
    assert r.std() == pytest.approx(0.05, rel=0.05)
    assert ((r - 1).abs() < 0.05).mean() == pytest.approx(0.6827, abs=0.02)
    assert (frame["current_price"] == frame["current_price"].round(2)).all()


def test_prices_are_clamped_to_min_and_max():
    products = [
        make("C1", strategy="moderate", base=1000.0, low=950.0, high=1050.0),
        make("C2", strategy="aggressive", base=1000.0, low=900.0, high=1000.0),
        make("C3", strategy="random", base=1000.0, low=1000.0, high=1000.0),
    ]
    frame = generate_sales(SalesRequest(hours=2000, products=products, start=MONDAY))
    by = {pid: g["current_price"] for pid, g in frame.groupby("product_id")}
    assert by["C1"].between(950, 1050).all()
    assert by["C1"].isin([950.0, 1050.0]).mean() == pytest.approx(0.3173, abs=0.03)
    assert by["C2"].between(900, 1000).all()
    assert (by["C2"] == 900).mean() == pytest.approx(0.25, abs=0.03)
    assert (by["C2"] == 1000).mean() == pytest.approx(0.25, abs=0.03)
    assert (by["C3"] == 1000).all()


def test_floors():
    products = [
        make("F1", rating=2.0, strategy="aggressive"),
        make("F2", rating=2.0, category="Consoles", base=50.0),
        make("F3", rating=4.0),
    ]
    frame = generate_sales(
        SalesRequest(
            hours=500, products=products, start=MONDAY, category_popularity={"Laptops": 0.0}
        )
    )
    assert (frame["views"] >= 100).all()
    assert (frame["cart_adds"] >= 1).all()
    assert (frame["purchases"] >= 1).all()
    at_two = frame[frame["rating"] == 2.0]
    assert len(at_two) > 50  # the walk often sits at its floor when it starts there
    assert (at_two["views"] == 100).all() and (at_two["cart_adds"] == 1).all()
    assert (at_two["purchases"] == 1).all()
    # Zero popularity (cp enters twice) -> views at the floor, whatever the rating.
    laptops = frame[frame["category"] == "Laptops"]
    assert (laptops["views"] == 100).all()


def test_logistic_purchase_response():
    """purchases / cart_adds follows 0.175 / (1 + exp(2 (p - b) / (0.1 b))): sensitivity 10% of base."""
    products = [make(f"L{i:02d}", strategy="random", base=1000.0, rating=4.8) for i in range(40)]
    frame = generate_sales(SalesRequest(hours=1500, products=products, start=MONDAY, seed=11))
    frame = frame[frame["cart_adds"] >= 300]
    x = (frame["current_price"] - frame["base_price"]) / frame["base_price"]
    conversion = (frame["purchases"] + 0.5) / frame["cart_adds"]  # +0.5 undoes int() on average
    bins = pd.cut(x, np.linspace(-0.1, 0.1, 11))
    observed = conversion.groupby(bins, observed=True).mean() / 0.175
    centres = np.array([iv.mid for iv in observed.index])
    expected = 1 / (1 + np.exp(2.0 * centres / 0.1))
    # Mean of the logistic over each bin vs at its centre differs by < 0.02 here.
    assert np.abs(observed.to_numpy() - expected).max() < 0.03, observed
    # Fit the slope of logit(demand) against the relative price: 2 / 0.1 = 20.
    keep = (observed > 0.1) & (observed < 0.9)
    slope = np.polyfit(centres[keep], np.log(1 / observed[keep] - 1), 1)[0]
    assert slope == pytest.approx(20.0, rel=0.1)
    # At base price, demand is one half; at 0.9 base about 0.88, at 1.1 base about 0.12.
    assert observed.iloc[[4, 5]].mean() == pytest.approx(0.5, abs=0.03)
    assert observed.iloc[0] == pytest.approx(0.87, abs=0.03)
    assert observed.iloc[-1] == pytest.approx(0.13, abs=0.03)
