"""The simulated shop: the original ProfiteerIO generator's formulas, vectorized and deterministic.

Every random number is a pure function of its key (counter-based randomness), never of a stream
position: a keyed 64-bit hash (SplitMix64's finaliser) of ``(seed, product_id, hour, stream)``.
Per (product, hour): the ``demand`` draw gives three 21-bit uniforms (popularity noise, cart rate,
purchase rate), the ``price`` draw two 32-bit uniforms, and the ``rating`` draw one 32-bit uniform
per hour (one draw covers two hours); ``base_views`` is one draw per (seed, product). So the rows
of an hour are the same whether it is generated alone, inside a longer request, in any order, or
beside other products, and nothing is read from earlier partitions.

Per product and hour (SEED-GENERATOR.md), with ``h`` the hour and ``cp`` the category popularity:

1. rating: a walk from ``base_rating`` (clamped to [2, 5], rounded to 0.1); each hour a 10% chance
   (u < 0.1) of a U(-0.2, 0.2) step (drawn from u / 0.1, uniform given the gate), then clamp and
   round. The hour's row shows the rating after its step.
2. ``rf = ((rating - 2) / 3) ** 0.9 * 1.8``
3. ``popularity_factor = cp * rf * (U(0.95, 1.05) * cp)``. **cp enters twice**: that is the
   original code's behaviour and we keep it (so Laptops get 1.21x, Consoles 0.81x). The column is
   rounded to 2 decimals; the unrounded value feeds the views.
4. price by strategy (aggressive U(0.85b, 1.05b), moderate N(b, 0.05b), random U(0.9b, 1.1b)),
   clamped to [min_price, max_price], rounded to 2 decimals.
5. views ``max(100, int(base_views * popularity_factor * time_factor))``, ``base_views`` an integer
   in [8000, 12000] drawn once per (seed, product).
6. cart adds ``max(1, int(views * U(0.045, 0.055) * rf))``.
7. purchases ``max(1, int(cart_adds * U(0.16, 0.19) * demand))``,
   ``demand = 1 / (1 + exp(2 * (price - base) / (0.1 * base)))`` (on the rounded price).

**Rating epochs.** A clamped, rounded walk has no closed form, and walking from the start of time
would make an hour's cost grow with the calendar. So the walk restarts from ``base_rating`` at
every epoch anchor, **Monday 00:00 UTC** (``RATING_EPOCH_HOURS`` = 168): an hour's rating is the
walk from its week's anchor, at most 168 steps, computed for all products and weeks at once (a
loop over the 168 offsets of the week, vectorized over everything else). The walk runs on integer
tenths: clamping to [2, 5] and rounding to 0.1 commute because 2 and 5 are on the 0.1 grid, so
``round(clamp(r + U(-0.2, 0.2)), 1)`` is ``clamp(r + rint(10 U))/10`` exactly, except on ties of
probability zero. A consequence to know: ratings (and so views) jump back to ``base_rating`` at
each Monday 00:00 UTC; within a week they wander as in the original.

**Speed.** Work is done in chunks of ``CHUNK_ROWS`` rows so temporaries stay in cache, written into
a few large output buffers; about 10-15 million rows/s of CPU here, against ~0.2 million for the
original per-row loop (``benchmarks/bench_synth.py``). Uniform draws are scaled with the 2**-k
factor folded into one multiply, which is exact (a power of two), so the vectorized rows equal a
per-row evaluation of the formulas (``tests/test_synth_reference.py`` checks it row by row).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.synth.models import (
    DEFAULT_SEED,
    RATING_MAX,
    RATING_MIN,
    CatalogError,
    Product,
    SalesRequest,
    coerce_request,
)

# --- constants of the original generator ---------------------------------------------------------

RATING_STEP_PROBABILITY = 0.1
RATING_STEP = 0.2
RATING_EPOCH_HOURS = 168
#: Hours from 1970-01-01 00:00 UTC (a Thursday) to the first Monday 00:00 UTC (1970-01-05).
RATING_EPOCH_ORIGIN = 96
BASE_VIEWS_RANGE = (8000, 12000)  # inclusive
POPULARITY_NOISE = (0.95, 1.05)
CART_RATE = (0.045, 0.055)
PURCHASE_RATE = (0.16, 0.19)
PRICE_SENSITIVITY = 0.1  # of base price
DEMAND_STEEPNESS = 2.0
STRATEGY_BOUNDS = {"aggressive": (0.85, 1.05), "random": (0.9, 1.1)}
MODERATE_SIGMA = 0.05  # of base price
VIEWS_FLOOR, CART_FLOOR, PURCHASE_FLOOR = 100, 1, 1

#: (name, views factor) of each UTC hour of the day.
BUCKETS = ("Overnight", "Morning", "Afternoon", "Evening")
BUCKET_FACTORS = {"Overnight": 0.5, "Morning": 0.8, "Afternoon": 1.5, "Evening": 1.0}


def bucket_of_hour(hour: int) -> str:
    """Overnight 22:00-05:59, Morning 06-11, Afternoon 12-17, Evening 18-21."""
    if 6 <= hour < 12:
        return "Morning"
    if 12 <= hour < 18:
        return "Afternoon"
    if 18 <= hour < 22:
        return "Evening"
    return "Overnight"


_BUCKET_OF_HOUR = np.array([BUCKETS.index(bucket_of_hour(h)) for h in range(24)], dtype=np.int8)
_FACTOR_OF_HOUR = np.array([BUCKET_FACTORS[bucket_of_hour(h)] for h in range(24)])
_BUCKET_NAMES = np.array(BUCKETS, dtype=object)
_PRODUCT_TEXT = ("product_name", "product_image", "category", "price_strategy")

#: rf by rating in tenths (index 20..50; below 20 unused), exactly as the per-row formula computes it.
_RF_BY_TENTHS = np.array([((max(t, 20) / 10 - 2) / 3) ** 0.9 * 1.8 for t in range(51)])

# --- counter-based randomness ------------------------------------------------------------------------

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S32 = (np.uint64(n) for n in (30, 27, 31, 32))
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW21 = np.uint64(0x1FFFFF)
_TO_UNIT = 2.0**-32
#: The three 21-bit fields of a 64-bit draw, as right shifts (the lowest bit is unused).
_FIELD21 = (np.uint64(43), np.uint64(22), np.uint64(1))

#: Stream ids: one 64-bit draw per stream and (product, hour).
#: rating: one 32-bit draw per hour (two hours per draw); demand: three 21-bit uniforms
#: (popularity noise, cart rate, purchase rate); price: two 32-bit uniforms; base_views: one per
#: product.
STREAMS = {"rating": 1, "demand": 2, "price": 3, "base_views": 5}

#: Rows per vectorized chunk: small enough that the temporaries stay in cache and are reused.
CHUNK_ROWS = 32_768


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on a uint64 array: a bijection with full avalanche."""
    tmp = np.empty_like(x)
    for shift, mult in ((_S30, _M1), (_S27, _M2)):
        np.right_shift(x, shift, out=tmp)
        x ^= tmp
        x *= mult
    np.right_shift(x, _S31, out=tmp)
    x ^= tmp
    return x


def product_key(product_id: str) -> int:
    """A stable 64-bit key of a product id (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.blake2b(product_id.encode(), digest_size=8).digest(), "little")


def product_keys(seed: int, product_ids: Sequence[str]) -> np.ndarray:
    """Per-product keys for ``seed``: a product's draws depend on nothing else in the catalog."""
    seed_key = mix64(np.array([seed % 2**64], dtype=np.uint64) ^ _GOLDEN)
    keys = np.array([product_key(pid) for pid in product_ids], dtype=np.uint64)
    return mix64(keys ^ seed_key)


def _hour_keys(hours: np.ndarray, stream: int) -> np.ndarray:
    x = hours.astype(np.int64).view(np.uint64) * _GOLDEN
    return mix64(x ^ mix64(np.array([stream], dtype=np.uint64)))


def keyed_bits(
    pkeys: np.ndarray, hours: np.ndarray, stream: int, by_product: bool = False
) -> np.ndarray:
    """64 random bits per (hour, product): ``mix64(hour_key(hour, stream) ^ product_key)``.

    A pure function of its key, never of a position in a stream. Shape (hours, products), or
    (products, hours) with ``by_product``.
    """
    hkeys = _hour_keys(hours, stream)
    if by_product:
        return mix64(np.bitwise_xor(pkeys[:, None], hkeys[None, :]))
    return mix64(np.bitwise_xor(hkeys[:, None], pkeys[None, :]))


def draws(
    pkeys: np.ndarray, hours: np.ndarray, stream: int, by_product: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Two U[0, 1) arrays from one stream: the high and low 32 bits (exact multiples of 2**-32)."""
    bits = keyed_bits(pkeys, hours, stream, by_product)
    high = (bits >> _S32).astype(np.float64)
    high *= _TO_UNIT
    bits &= _LOW32
    low = bits.astype(np.float64)
    low *= _TO_UNIT
    return high, low


def uniform21(bits: np.ndarray, field: int, low: float, high: float) -> np.ndarray:
    """``low + (high - low) * u`` with u the ``field``-th 21-bit fraction of ``bits``.

    Scaling by ``(high - low) * 2**-21`` in one multiply is exact: 2**-21 is a power of two.
    """
    raw = bits >> _FIELD21[field]
    if field:
        raw &= _LOW21
    u = raw.astype(np.float64)
    u *= (high - low) * 2.0**-21
    u += low
    return u


def uniform(low: float | np.ndarray, high: float | np.ndarray, u: np.ndarray) -> np.ndarray:
    """``random.uniform(low, high)`` for a given U[0, 1) draw: ``low + (high - low) * u``."""
    return low + (high - low) * u


# --- the walk ---------------------------------------------------------------------------------------


def hour_index(moment: datetime) -> int:
    """Hours since 1970-01-01 00:00 UTC of an aware (or naive = UTC) datetime on the hour."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(moment.timestamp()) // 3600


def epoch_start(hour: int) -> int:
    """The hour index of the rating epoch anchor (Monday 00:00 UTC) at or before ``hour``."""
    return hour - (hour - RATING_EPOCH_ORIGIN) % RATING_EPOCH_HOURS


def _chunks(total: int, products: int) -> range:
    return range(0, total, max(1, CHUNK_ROWS // products))


def _rating_step_of(field: int) -> int:
    """The rating change, in tenths, for one hour's 32-bit draw ``field`` (the spec, literally).

    ``u = field / 2**32``: with probability 0.1 (u < 0.1) a step ``d = U(-0.2, 0.2)`` drawn from
    the same u (u / 0.1 is uniform on [0, 1) given u < 0.1); the rating moves by ``rint(10 d)``
    tenths (rounding to 0.1 and clamping to [2, 5] commute, as 2 and 5 are on the grid).
    """
    u = field * 2.0**-32
    if not u < RATING_STEP_PROBABILITY:
        return 0
    return round(uniform(-RATING_STEP, RATING_STEP, u / RATING_STEP_PROBABILITY) * 10)


def _rating_thresholds() -> np.ndarray:
    """The smallest 32-bit draws giving steps of at least -1, 0, +1, +2 tenths, and the gate.

    ``_rating_step_of`` is monotone below the gate (every float operation in it is), so four
    comparisons against these thresholds reproduce it exactly for every draw.
    """
    gate = next(f for f in range(429_496_720, 429_496_740) if not f * 2.0**-32 < 0.1)
    thresholds = []
    for k in (-1, 0, 1, 2):
        low, high = 0, gate
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if _rating_step_of(mid) >= k else (mid + 1, high)
        thresholds.append(low)
    return np.array([*thresholds, gate], dtype=np.uint32)


_RATING_THRESHOLDS = _rating_thresholds()


def rating_steps(pkeys: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Each hour's rating change in tenths (int8, shape (hours, products)); ``hours`` start even.

    One 64-bit draw per product and pair of hours (2j, 2j+1): the high 32 bits are hour 2j's,
    the low 32 bits hour 2j+1's. ``_rating_step_of`` maps a draw to its step.
    """
    assert hours[0] % 2 == 0 and len(hours) % 2 == 0
    bits = keyed_bits(pkeys, hours[::2] // 2, STREAMS["rating"])
    field = np.empty((len(bits), 2, len(pkeys)), dtype=np.uint32)
    field[:, 0] = bits >> _S32
    field[:, 1] = bits  # the low 32 bits (casting keeps them)
    field = field.reshape(len(hours), len(pkeys))
    t_minus1, t_zero, t_plus1, t_plus2, gate = _RATING_THRESHOLDS
    step = (field >= t_minus1).view(np.int8)
    step = step + (field >= t_zero).view(np.int8)
    step += (field >= t_plus1).view(np.int8)
    step += (field >= t_plus2).view(np.int8)
    step -= 2
    step *= field < gate
    return step


def rating_tenths(
    pkeys: np.ndarray, start_tenths: np.ndarray, first: int, hours: int
) -> np.ndarray:
    """Ratings in tenths (int8), shape (hours, products), for hours ``first .. first+hours-1``.

    Each hour's step is drawn from its own key; the walk restarts at every epoch anchor, so the
    work is the request plus at most one epoch on each side, whatever the date.
    """
    begin = epoch_start(first)
    epochs = -(-(first + hours - begin) // RATING_EPOCH_HOURS)
    span = epochs * RATING_EPOCH_HOURS
    n = len(pkeys)
    step = np.empty((span, n), dtype=np.int8)
    size = max(2, CHUNK_ROWS // n // 2 * 2)  # even: hours come in pairs per draw
    for a in range(0, span, size):
        b = min(a + size, span)
        step[a:b] = rating_steps(pkeys, np.arange(begin + a, begin + b, dtype=np.int64))
    # Walk all epochs at once: offset-major layout, so each of the 168 steps is one contiguous slab.
    step = np.ascontiguousarray(step.reshape(epochs, RATING_EPOCH_HOURS, n).transpose(1, 0, 2))
    walk = np.empty_like(step)
    previous = np.broadcast_to(start_tenths.astype(np.int8), (epochs, n))
    for offset in range(RATING_EPOCH_HOURS):  # bounded: 168 vector steps, whatever the calendar
        here = walk[offset]
        np.add(previous, step[offset], out=here)
        np.maximum(here, 20, out=here)
        np.minimum(here, 50, out=here)
        previous = here
    skip = first - begin
    return walk.transpose(1, 0, 2).reshape(span, n)[skip : skip + hours]


# --- generation -------------------------------------------------------------------------------------


def generate_sales(request: SalesRequest | Mapping[str, Any]) -> pd.DataFrame:
    """One row per product per hour with the 15 ``RECORD_FIELDS``, sorted by (timestamp, product_id).

    ``request`` is a ``SalesRequest`` or a dict of the same shape (the original POST /sales body);
    invalid input raises ``CatalogError`` listing every problem.
    """
    req = coerce_request(request)
    assert req.start is not None
    return _generate(req.products, hour_index(req.start), req.hours, req.seed, req)


def generate_window(
    products: Sequence[Product | Mapping[str, Any]],
    start: datetime | str,
    end: datetime | str,
    seed: int = DEFAULT_SEED,
    category_popularity: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The rows of the hours in ``[start, end)`` (UTC hours): what one hourly partition writes."""
    first, stop = _as_datetime(start, "start"), _as_datetime(end, "end")
    hours = int((stop - first).total_seconds() // 3600) if stop > first else 0
    if hours < 1:
        raise CatalogError(
            [f"window: end {stop.isoformat()} is not after start {first.isoformat()}"]
        )
    body: dict[str, Any] = {
        "hours": hours,
        "products": list(products),
        "start": first,
        "seed": seed,
    }
    if category_popularity is not None:
        body["category_popularity"] = dict(category_popularity)
    return generate_sales(body)


def _as_datetime(value: datetime | str, field: str) -> datetime:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise CatalogError([f"window: {field}: not a date-time ({value!r})"]) from exc
    if stamp is pd.NaT:
        raise CatalogError([f"window: {field}: not a date-time ({value!r})"])
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


class _Catalog:
    """Per-product constants as arrays, in product_id order."""

    def __init__(self, products: Sequence[Product], req: SalesRequest):
        self.products = sorted(products, key=lambda p: p.product_id)
        ps = self.products
        self.ids = [p.product_id for p in ps]
        self.pkeys = product_keys(req.seed, self.ids)
        self.base = np.array([p.base_price for p in ps])
        self.low = np.array([p.min_price for p in ps])
        self.high = np.array([p.max_price for p in ps])
        self.cp = np.array([req.popularity(p.category) for p in ps])
        tenths = [round(round(min(RATING_MAX, max(RATING_MIN, p.base_rating)), 1) * 10) for p in ps]
        self.start_tenths = np.array(tenths, dtype=np.int8)
        u, _ = draws(self.pkeys, np.zeros(1, dtype=np.int64), STREAMS["base_views"])  # no hour
        lo, hi = BASE_VIEWS_RANGE
        self.base_views = lo + np.floor(u[0] * (hi - lo + 1))
        strategy = np.array([p.price_strategy for p in ps])
        bounds = np.array([STRATEGY_BOUNDS.get(s, (1.0, 1.0)) for s in strategy]).reshape(-1, 2)
        self.price_low = self.base * bounds[:, 0]
        self.price_high = self.base * bounds[:, 1]
        self.price_scale = (self.price_high - self.price_low) * _TO_UNIT
        self.moderate = np.flatnonzero(strategy == "moderate")
        self.sensitivity = PRICE_SENSITIVITY * self.base


def _generate(
    products: Sequence[Product], first: int, hours: int, seed: int, req: SalesRequest
) -> pd.DataFrame:
    cat = _Catalog(products, req)
    n = len(cat.ids)
    hour = np.arange(first, first + hours, dtype=np.int64)
    tenths = rating_tenths(cat.pkeys, cat.start_tenths, first, hours)

    # Few, large output buffers (one numeric, one object) rather than one per column: fewer page
    # faults (numpy asks for huge pages from 4 MiB) and the allocator keeps them for the next call.
    rows = hours * n
    numeric = np.empty((9, rows))
    texts = np.empty((6, rows), dtype=object)
    grid = (hours, n)
    popularity_col, base_col, price, popularity, rating = (
        numeric[i].reshape(grid) for i in range(5)
    )
    views, cart_adds, purchases, stamps = (
        numeric[i].view(np.int64).reshape(grid) for i in range(5, 9)
    )

    size = max(1, CHUNK_ROWS // n)
    for a in _chunks(hours, n):
        part = slice(a, min(a + size, hours))
        _rows(
            cat,
            hour[part],
            tenths[part],
            rating[part],
            popularity[part],
            price[part],
            views[part],
            cart_adds[part],
            purchases[part],
        )

    popularity_col[:] = cat.cp
    base_col[:] = cat.base
    stamps[:] = (hour * 3_600_000_000_000)[:, None]
    fixed = [cat.ids, *([getattr(p, f) for p in cat.products] for f in _PRODUCT_TEXT)]
    for row, values in zip(texts[:5], fixed, strict=True):
        row.reshape(grid)[:] = np.array(values, dtype=object)
    texts[5].reshape(grid)[:] = _BUCKET_NAMES[_BUCKET_OF_HOUR[hour % 24]][:, None]

    columns = {
        "timestamp": pd.DatetimeIndex(stamps.reshape(-1).view("M8[ns]"), copy=False).tz_localize(
            "UTC"
        ),
        "product_id": texts[0],
        "product_name": texts[1],
        "product_image": texts[2],
        "category": texts[3],
        "price_strategy": texts[4],
        "category_popularity": numeric[0],
        "base_price": numeric[1],
        "current_price": numeric[2],
        "popularity_factor": numeric[3],
        "rating": numeric[4],
        "time_of_day_bucket": texts[5],
        "views": numeric[5].view(np.int64),
        "cart_adds": numeric[6].view(np.int64),
        "purchases": numeric[7].view(np.int64),
    }
    assert list(columns) == list(RECORD_FIELDS)
    return pd.DataFrame(columns, copy=False)


def _rows(
    cat: _Catalog,
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
    rf = _RF_BY_TENTHS.take(tenths)

    bits = keyed_bits(cat.pkeys, hour, STREAMS["demand"])
    noise = uniform21(bits, 0, *POPULARITY_NOISE)
    noise *= cat.cp
    pop = cat.cp * rf
    pop *= noise  # cp * rf * (U * cp): cp enters twice, as in the original
    np.round(pop, 2, out=popularity)
    views = np.multiply(cat.base_views, pop, out=noise)
    views *= _FACTOR_OF_HOUR[hour % 24][:, None]
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
    np.round(raw.T, 2, out=price)
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


def _prices(cat: _Catalog, hour: np.ndarray) -> np.ndarray:
    """Unclamped prices by strategy, laid out (products, hours) so a strategy's rows are contiguous.

    u1 is the high 32 bits of the price draw, u2 (moderate only) the low 32 bits.
    """
    bits = keyed_bits(cat.pkeys, hour, STREAMS["price"], by_product=True)
    high = (bits >> _S32).astype(np.float64)
    # low + (high - low) * u1, with u1's 2**-32 folded into the span (exact: a power of two).
    price = high * cat.price_scale[:, None]
    price += cat.price_low[:, None]
    if cat.moderate.size:
        m = cat.moderate
        u1 = high[m] * _TO_UNIT
        u2 = (bits[m] & _LOW32).astype(np.float64)
        u2 *= 2.0 * np.pi * _TO_UNIT
        # Box-Muller: N(base, 0.05 base) from the same two uniforms (1 - u1 is in (0, 1]).
        z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(u2)
        price[m] = cat.base[m, None] + (MODERATE_SIGMA * cat.base[m, None]) * z
    return price


def empty_sales_frame() -> pd.DataFrame:
    """A frame with no rows and the generator's columns and dtypes."""
    dtypes = {
        "timestamp": "datetime64[ns, UTC]",
        "text": object,
        "float": np.float64,
        "integer": np.int64,
    }
    return pd.DataFrame(
        {name: pd.Series(dtype=dtypes[kind]) for name, kind in RECORD_FIELDS.items()}
    )
