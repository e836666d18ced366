"""The model's input rows for a product, a time-of-day bucket and a set of prices.

Pure (no Streamlit). Everything but the price comes from the product's history in that bucket
(`analytics.avg_purchases_by_bucket`: average views and cart adds per hour, average rating and
popularity factor) and the `products` dimension (category, base price); the price gives
`price_ratio`. So a row asks the model: "in a typical <bucket> hour for this product, how many purchases at this price?". The rows
themselves are built by the model engineer's `model_inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from profiteer_pipeline.model.features import model_inputs
from profiteer_pipeline.model.spec import DEFAULT_SPEC
from profiteer_pipeline.synth.generator import BUCKETS, bucket_of_hour


def current_bucket(now: datetime | None = None) -> str:
    """The time-of-day bucket of the current UTC hour."""
    return bucket_of_hour((now or datetime.now(UTC)).astimezone(UTC).hour)


def ordered_buckets(present: Sequence[str] = ()) -> list[str]:
    """The buckets in the order of a day, then any unknown ones."""
    return [b for b in BUCKETS] + sorted(set(present) - set(BUCKETS))


def profile(product: Mapping[str, object], inputs: Mapping[str, object]) -> dict[str, object]:
    """The model engineer's what-if profile (`profiteer_pipeline.model.features.PROFILE_COLUMNS`)
    from a `products` row and its `analytics.avg_purchases_by_bucket` row."""
    category = str(product["category"])
    return {
        "product_id": product.get("product_id"),
        "time_of_day_bucket": str(inputs["time_of_day_bucket"]),
        "category": category,
        "base_price": float(product["base_price"]),  # type: ignore[arg-type]
        "hours": inputs.get("hours"),
        "views": float(inputs["avg_views"]),  # type: ignore[arg-type]
        "cart_adds": float(inputs["avg_cart_adds"]),  # type: ignore[arg-type]
        "popularity_factor": float(inputs["avg_popularity_factor"]),  # type: ignore[arg-type]
        "rating": float(inputs.get("avg_rating") or 0.0),  # type: ignore[arg-type]
    }


def feature_rows(
    product: Mapping[str, object],
    inputs: Mapping[str, object],
    prices: Sequence[float],
    features: Sequence[str] = DEFAULT_SPEC.features,
) -> pd.DataFrame:
    """One model input row per price (column `price` plus the model's `features`), built by the
    model engineer's `model_inputs`, so the app sends what the model was trained on."""
    base = float(product["base_price"])  # type: ignore[arg-type]
    if not base > 0:
        raise ValueError(f"product {product.get('product_id')}: base_price must be > 0")
    return model_inputs(profile(product, inputs), np.asarray(prices, dtype=float), features)
