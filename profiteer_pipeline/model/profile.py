"""The model's what-if profile: a product's typical hour in a time-of-day bucket.

Pure (psycopg2 and pandas, no Dagster, no Streamlit). `whatif_profile` turns a `products` row and
its `analytics.avg_purchases_by_bucket` row into the profile that `features.model_inputs` varies
the price over. It is the one way the model's what-if inputs are built: the app (one product and
bucket, from its reads of the two tables) and the `price_response` check and the benchmark
(every product and bucket, from `read_profiles`, the same two tables joined) both call it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.warehouse import metrics
from profiteer_pipeline.warehouse.products import PRODUCTS_COLUMNS

#: What the profile takes from each table.
PRODUCT_FIELDS = ("product_id", "category", "base_price")
BUCKET_FIELDS = (
    "time_of_day_bucket",
    "hours",
    "avg_views",
    "avg_cart_adds",
    "avg_popularity_factor",
    "avg_rating",
)

#: A profile: per product and time-of-day bucket, its typical inputs (means over all history).
PROFILE_COLUMNS = [
    "product_id",
    "time_of_day_bucket",
    "category",
    "base_price",
    "hours",
    "views",
    "cart_adds",
    "popularity_factor",
    "rating",
]


def whatif_profile(
    product: Mapping[str, object], bucket: Mapping[str, object]
) -> dict[str, object]:
    """The what-if profile (`PROFILE_COLUMNS`) of a `products` row and one of its
    `analytics.avg_purchases_by_bucket` rows."""
    pid = product.get("product_id")
    if bucket.get("product_id", pid) != pid:
        raise ValueError(f"the bucket row of {bucket.get('product_id')} is not product {pid}'s")
    base = float(product["base_price"])  # type: ignore[arg-type]
    if not base > 0:
        raise ValueError(f"product {pid}: base_price must be > 0")
    return {
        "product_id": pid,
        "time_of_day_bucket": str(bucket["time_of_day_bucket"]),
        "category": str(product["category"]),
        "base_price": base,
        "hours": bucket.get("hours"),
        "views": float(bucket["avg_views"]),  # type: ignore[arg-type]
        "cart_adds": float(bucket["avg_cart_adds"]),  # type: ignore[arg-type]
        "popularity_factor": float(bucket["avg_popularity_factor"]),  # type: ignore[arg-type]
        "rating": float(bucket["avg_rating"]),  # type: ignore[arg-type]
    }


def profiles_query() -> sql.Composed:
    """Every (product, bucket) row of `avg_purchases_by_bucket` joined with its `products` row:
    the fields the profile takes, plus the product's price range."""
    buckets = metrics.TABLES["avg_purchases_by_bucket"]
    product_cols = [*PRODUCT_FIELDS, "min_price", "max_price"]
    unknown = set(product_cols) - set(PRODUCTS_COLUMNS)
    if unknown:
        raise ValueError(f"public.products has no column(s) {sorted(unknown)}")
    return sql.SQL(
        "SELECT {p}, {b} FROM {buckets} b JOIN public.products p ON p.product_id = b.product_id"
        " ORDER BY b.product_id, b.time_of_day_bucket"
    ).format(
        p=sql.SQL(", ").join(sql.Identifier("p", c) for c in product_cols),
        b=sql.SQL(", ").join(sql.Identifier("b", c) for c in buckets.check_columns(BUCKET_FIELDS)),
        buckets=buckets.identifier,
    )


def profiles(rows: pd.DataFrame) -> pd.DataFrame:
    """`whatif_profile` of each row of `profiles_query` (columns `PROFILE_COLUMNS`)."""
    out = [
        whatif_profile({f: r[f] for f in PRODUCT_FIELDS}, {f: r[f] for f in BUCKET_FIELDS})
        for r in rows.to_dict("records")
    ]
    return pd.DataFrame(out, columns=PROFILE_COLUMNS)


def read_profiles(conn: PgConnection) -> tuple[pd.DataFrame, dict[str, tuple[float, float]]]:
    """Every product's profiles, and each product's price range [min_price, max_price], from the
    warehouse (read-only; the caller's transaction is rolled back)."""
    try:
        with conn.cursor() as cur:
            cur.execute(profiles_query())
            rows = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    finally:
        conn.rollback()
    ranges = {
        str(r["product_id"]): (float(r["min_price"]), float(r["max_price"]))
        for r in rows.drop_duplicates("product_id").to_dict("records")
    }
    return profiles(rows), ranges
