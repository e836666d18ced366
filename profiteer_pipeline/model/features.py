"""The model's inputs for a what-if price: a product's typical hour, with the price varied.

In the simulation, views and cart adds do not depend on the price; the price acts only through
the conversion from cart to purchase (`purchases = cart_adds x U(0.16, 0.19) x logistic(price)`).
So a what-if prediction holds the product's historical averages for a time-of-day bucket and
varies `price_ratio = price / base_price`, rounded as the `sales_features` view rounds it.

Pure module (no Dagster): the profiles come from `profile.whatif_profile` (a `products` row and
its `analytics.avg_purchases_by_bucket` row); the app, the price-response check and the benchmark
turn them into model inputs here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: A representative hour of each bucket (its middle), for models that take `hour_of_day`.
BUCKET_HOURS = {"Overnight": 2, "Morning": 9, "Afternoon": 15, "Evening": 20}


def price_ratio(prices: np.ndarray | Sequence[float], base_price: float) -> np.ndarray:
    """`price / base_price` rounded to 4 decimals, exactly as the `sales_features` view does."""
    if not base_price > 0:
        raise ValueError(f"base_price must be > 0, got {base_price}")
    return np.round(np.asarray(prices, dtype=float) / float(base_price), 4)


def model_inputs(
    profile: Mapping[str, object], prices: np.ndarray | Sequence[float], features: Sequence[str]
) -> pd.DataFrame:
    """One row of model inputs per price: the profile's typical values, the price varied.

    `profile` holds the product's typical values and `base_price` (`profile.whatif_profile`);
    views and cart adds are rounded to whole numbers as in the training data.
    """
    prices = np.asarray(prices, dtype=float)
    base = float(profile["base_price"])  # type: ignore[arg-type]
    bucket = str(profile.get("time_of_day_bucket", ""))
    values: dict[str, object] = {
        "views": int(round(float(profile["views"]))),  # type: ignore[arg-type]
        "cart_adds": int(round(float(profile["cart_adds"]))),  # type: ignore[arg-type]
        "popularity_factor": round(float(profile.get("popularity_factor", 0.0)), 2),  # type: ignore[arg-type]
        "rating": round(float(profile.get("rating", 0.0)), 1),  # type: ignore[arg-type]
        "time_of_day_bucket": bucket,
        "category": str(profile.get("category", "")),
        "hour_of_day": BUCKET_HOURS.get(bucket, 12),
    }
    unknown = [f for f in features if f not in values and f != "price_ratio"]
    if unknown:
        raise ValueError(f"no what-if value for feature(s): {', '.join(unknown)}")
    frame = pd.DataFrame({"price": prices, "price_ratio": price_ratio(prices, base)})
    for feature in features:
        if feature != "price_ratio":
            frame[feature] = values[feature]
    return frame[["price", *features]]


def grid_frame(
    profiles: pd.DataFrame,
    price_ranges: Mapping[str, tuple[float, float]],
    features: Sequence[str],
    points: int = 21,
) -> pd.DataFrame:
    """Model inputs for every profile row over its product's price range (`points` prices).

    Keeps `product_id`, `time_of_day_bucket` and `price` beside the features so predictions can
    be grouped into curves. Products without a known range are skipped.
    """
    from profiteer_pipeline.pricing.grid import price_grid

    frames = []
    for row in profiles.to_dict("records"):
        rng = price_ranges.get(row["product_id"])
        if rng is None:
            continue
        inputs = model_inputs(row, price_grid(rng[0], rng[1], points), features)
        inputs.insert(0, "time_of_day_bucket_key", row["time_of_day_bucket"])
        inputs.insert(0, "product_id_key", row["product_id"])
        frames.append(inputs)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out.rename(columns={"product_id_key": "product_id", "time_of_day_bucket_key": "bucket"})
