"""DDL of the warehouse's core tables. `sales` holds the 15 record fields, keyed by (product_id, timestamp)."""

from profiteer_pipeline.synth.fields import RECORD_FIELDS

RAW_SCHEMA = "airbyte_raw"  # where the Airbyte sync lands, before typing and deduplication

_SQL_TYPES = {
    "timestamp": "timestamptz",
    "text": "text",
    "float": "double precision",
    "integer": "integer",
}

SALES_COLUMNS = list(RECORD_FIELDS)

SALES_DDL = (
    "CREATE TABLE IF NOT EXISTS public.sales (\n"
    + ",\n".join(
        f'    "{name}" {_SQL_TYPES[kind]} NOT NULL' for name, kind in RECORD_FIELDS.items()
    )
    + ',\n    PRIMARY KEY (product_id, "timestamp"),\n'
    + "    CHECK (date_trunc('hour', \"timestamp\" AT TIME ZONE 'UTC') = \"timestamp\" AT TIME ZONE 'UTC')\n"
    + ");\n"
    + 'CREATE INDEX IF NOT EXISTS sales_timestamp_idx ON public.sales ("timestamp");\n'
)

# The model's training set: the original's features plus time and category context.
SALES_FEATURES_COLUMNS = [
    "product_id",
    "timestamp",
    "category",
    "time_of_day_bucket",
    "hour_of_day",
    "views",
    "cart_adds",
    "price_ratio",
    "popularity_factor",
    "rating",
    "current_price",
    "base_price",
    "purchases",
]

SALES_FEATURES_DDL = """
CREATE OR REPLACE VIEW public.sales_features AS
SELECT
    product_id,
    "timestamp",
    category,
    time_of_day_bucket,
    extract(hour FROM "timestamp" AT TIME ZONE 'UTC')::int AS hour_of_day,
    views,
    cart_adds,
    round((current_price / base_price)::numeric, 4)::double precision AS price_ratio,
    popularity_factor,
    rating,
    current_price,
    base_price,
    purchases
FROM public.sales;
"""
