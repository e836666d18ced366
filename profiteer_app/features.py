"""The model's input rows for a product, a time-of-day bucket and a set of prices.

Pure (no Streamlit). The profile (everything but the price) is the model engineer's
`whatif_profile`: the product's history in that bucket (`analytics.avg_purchases_by_bucket`:
average views and cart adds per hour, average rating and popularity factor) and the `products`
dimension (category, base price), the very function the `price_response` check builds its inputs
with; the price gives `price_ratio`. So a row asks the model: "in a typical <bucket> hour for
this product, how many purchases at this price?".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from profiteer_pipeline.model.features import model_inputs
from profiteer_pipeline.model.profile import whatif_profile
from profiteer_pipeline.model.spec import DEFAULT_SPEC
from profiteer_pipeline.synth.generator import BUCKETS, bucket_of_hour


def current_bucket(now: datetime | None = None) -> str:
    """The time-of-day bucket of the current UTC hour."""
    return bucket_of_hour((now or datetime.now(UTC)).astimezone(UTC).hour)


def ordered_buckets(present: Sequence[str] = ()) -> list[str]:
    """The buckets in the order of a day, then any unknown ones."""
    return [b for b in BUCKETS] + sorted(set(present) - set(BUCKETS))


def feature_rows(
    product: Mapping[str, object],
    inputs: Mapping[str, object],
    prices: Sequence[float],
    features: Sequence[str] = DEFAULT_SPEC.features,
) -> pd.DataFrame:
    """One model input row per price (column `price` plus the model's `features`) for a
    `products` row and its `avg_purchases_by_bucket` row (`inputs`), so the app sends what the
    model was trained on, built as the `price_response` check builds its rows."""
    return model_inputs(whatif_profile(product, inputs), np.asarray(prices, dtype=float), features)
