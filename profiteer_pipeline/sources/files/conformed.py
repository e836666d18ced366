"""An import's sales in the shape the metric tables read, so that an import gets the simulated
shop's metric tables (`warehouse.metrics`), declared once and refreshed the same way, in its own
schema.

`import_<name>.metric_sales` is a view over the import's `sales` (product-hours with sales) and
`products`, with the columns of the shop's `public.sales` that the tables' refresh reads: units
as purchases, the hour's average price paid as the price, each hour's time-of-day bucket (the
shop's buckets, `synth.time_of_day`), the funnel where the file had one (zero otherwise: the
conversion rate is then NULL, as the tables define it), and no image, rating or popularity
(the app shows those only for a source that has them). Returned units stay out: they are not
sales. The tables count whole units (bigint, as the shop sells): an export of fractional
quantities keeps its exact units in `daily` and `products`.

Pure psycopg2 (no Dagster): the import's transaction runs it (`pipeline`).
"""

from __future__ import annotations

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.model.daily_features import NO_CATEGORY
from profiteer_pipeline.synth.time_of_day import bucket_of_hour
from profiteer_pipeline.warehouse.metrics import RefreshStats, metrics_ddl
from profiteer_pipeline.warehouse.metrics.refresh import refresh_in_transaction
from profiteer_pipeline.warehouse.metrics.registry import placed

VIEW = "metric_sales"

_VIEW_SQL = """
CREATE VIEW {view} AS
SELECT s."timestamp",
       s.product_id,
       (ARRAY[{buckets}])[extract(hour FROM s."timestamp" AT TIME ZONE 'UTC')::int + 1]
           AS time_of_day_bucket,
       coalesce(p.product_name, s.product_id) AS product_name,
       ''::text AS product_image,
       coalesce(p.category, {no_category}) AS category,
       coalesce(s.views, 0)::bigint AS views,
       coalesce(s.cart_adds, 0)::bigint AS cart_adds,
       s.units AS purchases,
       s.avg_price::float8 AS current_price,
       0::float8 AS rating,
       0::float8 AS popularity_factor
FROM {sales} s
JOIN {products} p USING (product_id)
WHERE s.units > 0 AND s.avg_price IS NOT NULL
"""


def exists(conn: PgConnection, schema: str) -> bool:
    """Whether the import's schema has its metric tables (an import made before them has not)."""
    log = placed(schema)["refresh_log"]
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (log.identifier.as_string(cur),))
        return bool(cur.fetchone()[0])


def drop(conn: PgConnection, schema: str) -> None:
    """Drop the view, in the caller's transaction, before the tables under it are replaced."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(schema, VIEW)))


def create(conn: PgConnection, schema: str) -> None:
    """The view over the import's new `sales` and `products`, and the metric tables, new and
    empty, as declared today; in the caller's transaction."""
    tables = placed(schema, (schema, VIEW))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(_VIEW_SQL).format(
                view=sql.Identifier(schema, VIEW),
                sales=sql.Identifier(schema, "sales"),
                products=sql.Identifier(schema, "products"),
                no_category=sql.Literal(NO_CATEGORY),
                buckets=sql.SQL(", ").join(sql.Literal(bucket_of_hour(h)) for h in range(24)),
            )
        )
        for table in tables.values():
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table.identifier))
        cur.execute(metrics_ddl(tables))


def refresh(conn: PgConnection, schema: str) -> RefreshStats:
    """Every metric table rebuilt from the view: the shop's full refresh, on the import's
    schema, in the caller's transaction (the import's sales and their metrics land together)."""
    return refresh_in_transaction(conn, schema=schema, sales=(schema, VIEW))
