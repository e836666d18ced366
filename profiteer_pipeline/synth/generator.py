"""The simulated shop's driver: a request or a window of hours in, a DataFrame of rows out.

The original ProfiteerIO generator's formulas, vectorized and deterministic. The work is split:

- ``streams``: counter-based randomness, every draw a pure function of
  ``(seed, product_id, hour, stream)``, so an hour's rows do not depend on the request around it;
- ``rating_walk``: each product's rating hour by hour (restarting every Monday 00:00 UTC);
- ``formulas``: the spec's per-row formulas (popularity, price, views, cart adds, purchases);
- ``time_of_day``: the buckets of a UTC hour; ``constants``: the spec's parameters and floors.

**Speed.** Work is done in chunks of ``CHUNK_ROWS`` rows so temporaries stay in cache, written into
a few large output buffers; about 10-15 million rows/s of CPU here, against ~0.2 million for the
original per-row loop (``benchmarks/bench_synth.py``). The vectorized rows equal a per-row
evaluation of the formulas (``tests/test_synth_reference.py`` checks it row by row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from profiteer_pipeline.synth.constants import CHUNK_ROWS
from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.synth.formulas import ProductArrays, fill_rows
from profiteer_pipeline.synth.models import (
    DEFAULT_SEED,
    CatalogError,
    Product,
    SalesRequest,
    coerce_request,
)
from profiteer_pipeline.synth.rating_walk import rating_tenths

# profiteer_app.features imports BUCKETS and bucket_of_hour from here; they live in time_of_day.
from profiteer_pipeline.synth.time_of_day import BUCKETS, bucket_names, bucket_of_hour

__all__ = [
    "BUCKETS",
    "bucket_of_hour",
    "empty_sales_frame",
    "generate_sales",
    "generate_window",
    "hour_index",
]

_PRODUCT_TEXT = ("product_name", "product_image", "category", "price_strategy")


def hour_index(moment: datetime) -> int:
    """Hours since 1970-01-01 00:00 UTC of an aware (or naive = UTC) datetime on the hour."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(moment.timestamp()) // 3600


def generate_sales(request: SalesRequest | Mapping[str, Any]) -> pd.DataFrame:
    """One row per product per hour with the 15 ``RECORD_FIELDS``, sorted by (timestamp, product_id).

    ``request`` is a ``SalesRequest`` or a dict of the same shape (the original POST /sales body);
    invalid input raises ``CatalogError`` listing every problem.
    """
    req = coerce_request(request)
    assert req.start is not None
    return _generate(req.products, hour_index(req.start), req.hours, req)


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


def _chunks(total: int, products: int) -> range:
    return range(0, total, max(1, CHUNK_ROWS // products))


def _generate(
    products: Sequence[Product], first: int, hours: int, req: SalesRequest
) -> pd.DataFrame:
    cat = ProductArrays(products, req)
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
        fill_rows(
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
    texts[5].reshape(grid)[:] = bucket_names(hour)[:, None]

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
