"""The `products` dimension: the catalog as a warehouse table, replaced whole in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.warehouse.io import copy_dataframe, lock_key

if TYPE_CHECKING:
    import pandas as pd  # imported where the frame is made: the code location loads without it

PRODUCTS_COLUMNS = [
    "product_id",
    "product_name",
    "product_image",
    "category",
    "base_price",
    "base_rating",
    "price_strategy",
    "min_price",
    "max_price",
]

PRODUCTS_DDL = """
CREATE TABLE IF NOT EXISTS public.products (
    product_id text PRIMARY KEY,
    product_name text NOT NULL,
    product_image text NOT NULL,
    category text NOT NULL,
    base_price double precision NOT NULL CHECK (base_price > 0),
    base_rating double precision NOT NULL,
    price_strategy text NOT NULL,
    min_price double precision NOT NULL,
    max_price double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (min_price <= base_price AND base_price <= max_price)
);
"""


def products_frame(products: Sequence[object]) -> pd.DataFrame:
    """One row per catalog product (pydantic `Product`s), in the table's column order."""
    rows = [{c: getattr(p, c) for c in PRODUCTS_COLUMNS} for p in products]
    import pandas as pd

    return pd.DataFrame(rows, columns=PRODUCTS_COLUMNS)


def replace_products(conn: PgConnection, df: pd.DataFrame) -> int:
    """Make `public.products` exactly `df`: idempotent, and all-or-nothing."""
    with conn:
        lock_key(conn, "public", "products")
        with conn.cursor() as cur:
            cur.execute(PRODUCTS_DDL)
            cur.execute("DELETE FROM public.products")
        return copy_dataframe(conn, "products", df)
