"""An order export with a known price response per product: what elasticity estimates are
checked against (tests, `benchmarks/bench_elasticity.py`).

It has what makes real exports hard (UCI Online Retail's shape):
- sparse demand: most product-days sell nothing (about 90 % with the defaults);
- quantity tiers: lines of 12 or more units are billed at a discount, so the price *paid* falls
  with the quantity while the price *offered* does not;
- season: a weekly pattern and a slow yearly swing shared by all products;
- non-merchandise lines: postage and manual adjustments beside the products.

Each product's offered price moves in steps: every 2 to 6 weeks to 0.8 .. 1.2 x its base price.
Orders per day are Poisson with mean level x season x (price / base) ** elasticity, so the units'
elasticity is the product's `elasticity` (the quantities do not depend on the price).

`standing` bills a share of the lines at the price offered STANDING_DAYS before (customers on a
standing price list, as a wholesaler's regulars are): they buy as the others do, only what they
are billed differs. An estimator that reads the offered price off the lines must not take that
for a price change; `benchmarks/bench_elasticity.py --standing` measures how far it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

UCI_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
PRICE_STEPS = np.array([0.8, 0.9, 1.0, 1.1, 1.2])
#: quantity -> share of the offered price billed (wholesale tiers)
TIERS = ((12, 0.9), (48, 0.8), (100, 0.7))
SMALL_QUANTITIES = np.array([1, 2, 3, 4, 6])
BULK_QUANTITIES = np.array([12, 24, 48, 100])
BULK_SHARE = 0.15
#: a price holds for 4 to 13 weeks (a quarter at most), then moves to another step
REGIME_WEEKS = (4, 13)
#: how old the price a line on a standing price list is billed at
STANDING_DAYS = 35
#: (stock code, description, price): lines that are not products to price
NON_MERCHANDISE = (
    ("POST", "POSTAGE", 18.0),
    ("DOT", "DOTCOM POSTAGE", 11.0),
    ("M", "Manual", 2.5),
)


@dataclass(frozen=True)
class KnownExport:
    lines: pd.DataFrame  # UCI_COLUMNS, one row per order line
    truth: pd.DataFrame  # product_id, elasticity, base_price, level (orders/day at base price)
    prices: pd.DataFrame  # product_id, day, offered_price: the true offered price each day


def tier_share(quantity: np.ndarray) -> np.ndarray:
    """The share of the offered price billed at each quantity."""
    share = np.ones(len(quantity))
    for least, billed in TIERS:
        share[quantity >= least] = billed
    return share


def generate(
    products: int = 200,
    days: int = 364,
    *,
    seed: int = 7,
    elasticities: np.ndarray | None = None,
    mean_level: float = 0.12,
    start: str = "2011-01-03",
    standing: float = 0.0,
) -> KnownExport:
    """`products` products over `days` days. `elasticities` (one per product) defaults to
    uniform draws in [-3, -0.5]; `mean_level` sets the orders per day at the base price, spread
    log-normally across products (most sell rarely, a few often); `standing` is the share of
    lines billed at the price offered STANDING_DAYS before (none by default)."""
    rng = np.random.default_rng(seed)
    eps = (
        rng.uniform(-3.0, -0.5, products)
        if elasticities is None
        else np.asarray(elasticities, dtype=float)
    )
    if len(eps) != products:
        raise ValueError(f"need {products} elasticities, got {len(eps)}")
    base = np.round(np.exp(rng.normal(np.log(3.0), 0.6, products)), 2)
    level = mean_level * np.exp(rng.normal(-0.5, 1.0, products))
    ids = np.array([f"{20000 + i}" for i in range(products)])

    day = np.arange(days)
    season = (1.0 + 0.25 * np.sin(2 * np.pi * day / 7)) * (
        1.0 + 0.4 * np.sin(2 * np.pi * day / 365)
    )
    steps = np.empty((products, days))
    for i in range(products):  # a few dozen price regimes per product
        d = 0
        while d < days:
            length = 7 * int(rng.integers(REGIME_WEEKS[0], REGIME_WEEKS[1] + 1))
            steps[i, d : d + length] = rng.choice(PRICE_STEPS)
            d += length
    offered = np.round(base[:, None] * steps, 2)
    mean = level[:, None] * season[None, :] * (offered / base[:, None]) ** eps[:, None]
    orders = rng.poisson(mean)

    product_index, day_index = np.nonzero(orders)
    repeats = orders[product_index, day_index]
    product_index = np.repeat(product_index, repeats)
    day_index = np.repeat(day_index, repeats)
    n = len(product_index)
    bulk = rng.random(n) < BULK_SHARE
    quantity = np.where(
        bulk, rng.choice(BULK_QUANTITIES, n), rng.choice(SMALL_QUANTITIES, n)
    ).astype(int)
    billed = offered[product_index, day_index]
    if standing:
        # a stream of its own, so the rest of the export is the same with or without it
        kept = np.random.default_rng((seed, STANDING_DAYS)).random(n) < standing
        before = np.maximum(day_index - STANDING_DAYS, 0)
        billed = np.where(kept, offered[product_index, before], billed)
    price = np.round(billed * tier_share(quantity), 2)
    stamp = (
        pd.Timestamp(start)
        + pd.to_timedelta(day_index, unit="D")
        + pd.to_timedelta(rng.integers(8 * 60, 18 * 60, n), unit="min")
    )
    lines = pd.DataFrame(
        {
            "InvoiceNo": [f"{536000 + k}" for k in range(n)],
            "StockCode": ids[product_index],
            "Description": np.char.add("PRODUCT ", ids[product_index]),
            "Quantity": quantity,
            "InvoiceDate": stamp,
            "UnitPrice": price,
            "CustomerID": rng.integers(12000, 18000, n).astype(float),
            "Country": "United Kingdom",
        }
    )
    extra = _non_merchandise(rng, days, start, first_invoice=536000 + n)
    lines = pd.concat([lines, extra], ignore_index=True).sort_values("InvoiceDate", kind="stable")
    lines["InvoiceDate"] = lines["InvoiceDate"].dt.strftime("%m/%d/%Y %H:%M")
    truth = pd.DataFrame({"product_id": ids, "elasticity": eps, "base_price": base, "level": level})
    prices = pd.DataFrame(
        {
            "product_id": np.repeat(ids, days),
            "day": np.tile(pd.date_range(start, periods=days, freq="D").date, products),
            "offered_price": offered.ravel(),
        }
    )
    return KnownExport(lines.reset_index(drop=True)[list(UCI_COLUMNS)], truth, prices)


def _non_merchandise(rng: np.random.Generator, days: int, start: str, first_invoice: int):
    """A postage line on about a third of the days, a manual line now and then."""
    frames = []
    for k, (code, description, price) in enumerate(NON_MERCHANDISE):
        on = np.nonzero(rng.random(days) < (0.35 if k < 2 else 0.05))[0]
        frames.append(
            pd.DataFrame(
                {
                    "StockCode": code,
                    "Description": description,
                    "Quantity": 1,
                    "InvoiceDate": pd.Timestamp(start)
                    + pd.to_timedelta(on, unit="D")
                    + pd.Timedelta(hours=12),
                    "UnitPrice": price * rng.choice([1.0, 1.5, 2.0], len(on)),
                    "CustomerID": np.nan,
                    "Country": "United Kingdom",
                }
            )
        )
    extra = pd.concat(frames, ignore_index=True)
    extra["InvoiceNo"] = [f"{first_invoice + k}" for k in range(len(extra))]
    return extra
