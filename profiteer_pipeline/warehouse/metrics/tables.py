"""The metric tables, one declaration each: the single place a table's facts are written.

To add a column, add its `Column` (name, type, the SQL expression that computes it from the
refresh's sources, what it means) to its table below: the DDL, the refresh, the Dagster asset's
column schema and preview, and the app's reads all follow. A table that has a new layout is
recreated and rebuilt in full on the next run (`refresh.ensure_metric_tables`).

Days are UTC dates. Money is in the shop's currency as `double precision` rounded to cents (the
base aggregates keep integer cents, ratings and popularity in thousandths, so that adding and
removing days is exact); percentages are plain numbers (12.5 means 12.5 %). "Latest day" is the
newest UTC date present in `sales` (it may still be filling up: see `hours`).
Refresh parameters: `%(day0)s`/`%(day1)s` are the UTC days [day0, day1) to re-aggregate, and
`%(ts0)s`/`%(ts1)s` the same window as timestamptz, so that `sales` is read through its
timestamp index.
"""

from __future__ import annotations

from profiteer_pipeline.warehouse.metrics.declaration import Column as C
from profiteer_pipeline.warehouse.metrics.declaration import MetricTable, RunningTotals

HOT_PRODUCTS_LIMIT = 10

# The declarations are laid out by hand, a column a line, as a table reads.
# fmt: off

_CONVERSION = "purchases / views × 100 (NULL without views)"
_UPDATED = C("updated_at", "timestamptz NOT NULL", "now()", "when the refresh that wrote it ran")
_DAY_WINDOW = "day >= %(day0)s AND day < %(day1)s"

# --- base aggregates (incremental: each refresh re-aggregates only the days it touches) --------

DAILY_PRODUCT_SALES = MetricTable(
    "daily_product_sales",
    role="base",
    description="Base aggregate per UTC day × product × time-of-day bucket; the days each run "
    "touches are re-aggregated from `sales`.",
    columns=(
        C("day", "date NOT NULL", """("timestamp" AT TIME ZONE 'UTC')::date"""),
        C("product_id", "text NOT NULL", "product_id"),
        C("time_of_day_bucket", "text NOT NULL", "time_of_day_bucket"),
        C("product_name", "text NOT NULL", "max(product_name)"),
        C("product_image", "text NOT NULL", "max(product_image)"),
        C("category", "text NOT NULL", "max(category)"),
        C("hours", "integer NOT NULL", "count(*)", "hours (rows of `sales`)"),
        C("views", "bigint NOT NULL", "sum(views)"),
        C("cart_adds", "bigint NOT NULL", "sum(cart_adds)"),
        C("purchases", "bigint NOT NULL", "sum(purchases)"),
        C("revenue_cents", "bigint NOT NULL",
          "sum(round(current_price * 100)::bigint * purchases)"),
        C("price_cents_sum", "bigint NOT NULL", "sum(round(current_price * 100)::bigint)"),
        C("rating_milli_sum", "bigint NOT NULL", "sum(round(rating * 1000)::bigint)"),
        C("popularity_milli_sum", "bigint NOT NULL",
          "sum(round(popularity_factor * 1000)::bigint)"),
        C("min_price", "double precision NOT NULL", "min(current_price)"),
        C("max_price", "double precision NOT NULL", "max(current_price)"),
    ),
    key=("day", "product_id", "time_of_day_bucket"),
    upstream=("sales",),
    preview_order=("day DESC", "product_id", "time_of_day_bucket"),
    windowed=True,
    refresh="""
DELETE FROM {table} WHERE day >= %(day0)s AND day < %(day1)s;
INSERT INTO {table} ({columns})
SELECT {select}
FROM {sales}
WHERE "timestamp" >= %(ts0)s AND "timestamp" < %(ts1)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
""",
)

HOURLY_SALES = MetricTable(
    "hourly_sales",
    role="base",
    description="Base aggregate per hour over all products (the whole hourly history).",
    columns=(
        C("hour", "timestamptz NOT NULL", '"timestamp"'),
        C("time_of_day_bucket", "text NOT NULL", "max(time_of_day_bucket)"),
        C("products", "integer NOT NULL", "count(*)", "rows of `sales` in the hour"),
        C("views", "bigint NOT NULL", "sum(views)"),
        C("cart_adds", "bigint NOT NULL", "sum(cart_adds)"),
        C("purchases", "bigint NOT NULL", "sum(purchases)"),
        C("revenue_cents", "bigint NOT NULL",
          "sum(round(current_price * 100)::bigint * purchases)"),
    ),
    key=("hour",),
    upstream=("sales",),
    preview_order=("hour DESC",),
    windowed=True,
    refresh="""
DELETE FROM {table} WHERE hour >= %(ts0)s AND hour < %(ts1)s;
INSERT INTO {table} ({columns})
SELECT {select}
FROM {sales}
WHERE "timestamp" >= %(ts0)s AND "timestamp" < %(ts1)s
GROUP BY "timestamp";
""",
)

PRODUCT_BUCKET_TOTALS = MetricTable(
    "product_bucket_totals",
    role="base",
    description="Running totals per product × bucket, kept by adding the change of the "
    "re-aggregated days (never a rescan of history).",
    columns=(
        C("product_id", "text NOT NULL"),
        C("time_of_day_bucket", "text NOT NULL"),
        C("hours", "bigint NOT NULL"),
        C("views", "bigint NOT NULL"),
        C("cart_adds", "bigint NOT NULL"),
        C("purchases", "bigint NOT NULL"),
        C("revenue_cents", "bigint NOT NULL"),
        C("price_cents_sum", "bigint NOT NULL"),
        C("rating_milli_sum", "bigint NOT NULL"),
        C("popularity_milli_sum", "bigint NOT NULL"),
    ),
    key=("product_id", "time_of_day_bucket"),
    upstream=("daily_product_sales",),
    preview_order=("product_id", "time_of_day_bucket"),
    windowed=True,
    running=RunningTotals("daily_product_sales", window=_DAY_WINDOW, drop_when="hours <= 0"),
)

# --- the tables the app reads (each refreshed whole from the base aggregates, in this order) ---

# Also the day after the window: its previous_revenue / has_increased depend on the window's end.
CATEGORY_REVENUE = MetricTable(
    "category_revenue",
    role="app",
    description="Revenue per category per day, with the previous day's and `has_increased`.",
    columns=(
        C("day", "date NOT NULL", "c.day"),
        C("category", "text NOT NULL", "c.category"),
        C("revenue", "double precision NOT NULL", "c.revenue::float8"),
        C("items_sold", "bigint NOT NULL", "c.items_sold"),
        C("views", "bigint NOT NULL", "c.views"),
        C("cart_adds", "bigint NOT NULL", "c.cart_adds"),
        C("previous_revenue", "double precision", "p.revenue::float8",
          "same category, day − 1 (NULL if none)"),
        C("revenue_change_pct", "double precision",
          "CASE WHEN p.revenue > 0 THEN ((c.revenue - p.revenue) / p.revenue * 100)::float8 END",
          "% change from previous_revenue (NULL if none)"),
        C("has_increased", "boolean NOT NULL", "coalesce(c.revenue > p.revenue, false)",
          "revenue > previous_revenue (false when there is no previous day)"),
        _UPDATED,
    ),
    key=("day", "category"),
    upstream=("daily_product_sales",),
    preview_order=("day DESC", "category"),
    windowed=True,
    refresh="""
DELETE FROM {table} WHERE day >= %(day0)s AND day <= %(day1)s;
INSERT INTO {table} ({columns})
WITH per_day AS (
    SELECT day, category, sum(revenue_cents) / 100.0 AS revenue, sum(purchases) AS items_sold,
           sum(views) AS views, sum(cart_adds) AS cart_adds
    FROM {schema}.daily_product_sales
    WHERE day >= %(day0)s - 1 AND day <= %(day1)s
    GROUP BY day, category
)
SELECT {select}
FROM per_day c
LEFT JOIN per_day p ON p.category = c.category AND p.day = c.day - 1
WHERE c.day >= %(day0)s;
""",
)

DASHBOARD_SUMMARY = MetricTable(
    "dashboard_summary",
    role="app",
    description="Latest two days: revenue, items sold, conversion rate, each with the % change "
    "from the day before, and the top category by revenue.",
    columns=(
        C("day", "date NOT NULL", "c.day"),
        C("is_latest", "boolean NOT NULL", "c.day = latest.latest_day"),
        C("hours", "integer NOT NULL", "coalesce(hours.hours, 0)", "hours with data that day"),
        C("revenue", "double precision NOT NULL", "c.revenue::float8",
          "Σ current_price × purchases"),
        C("items_sold", "bigint NOT NULL", "c.items_sold", "Σ purchases"),
        C("views", "bigint NOT NULL", "c.views"),
        C("cart_adds", "bigint NOT NULL", "c.cart_adds"),
        C("conversion_rate", "double precision", "c.conversion_rate::float8", _CONVERSION),
        C("revenue_change_pct", "double precision",
          "CASE WHEN p.revenue > 0 THEN ((c.revenue - p.revenue) / p.revenue * 100)::float8 END",
          "% change from the previous day (NULL when that day has no data)"),
        C("items_sold_change_pct", "double precision",
          "CASE WHEN p.items_sold > 0"
          " THEN ((c.items_sold - p.items_sold)::numeric / p.items_sold * 100)::float8 END",
          "% change from the previous day"),
        C("conversion_rate_change_pct", "double precision",
          "CASE WHEN p.conversion_rate > 0"
          " THEN ((c.conversion_rate - p.conversion_rate) / p.conversion_rate * 100)::float8 END",
          "% change from the previous day"),
        C("top_category", "text", "top.category", "the category with the most revenue"),
        C("top_category_revenue", "double precision", "top.revenue"),
        _UPDATED,
    ),
    key=("day",),
    upstream=("daily_product_sales", "category_revenue", "hourly_sales"),
    preview_order=("day DESC",),
    refresh="""
DELETE FROM {table};
INSERT INTO {table} ({columns})
WITH latest AS (SELECT (SELECT max(day) FROM {schema}.daily_product_sales) AS latest_day),
per_day AS (
    SELECT d.day, sum(d.revenue_cents) / 100.0 AS revenue, sum(d.purchases) AS items_sold,
           sum(d.views) AS views, sum(d.cart_adds) AS cart_adds,
           CASE WHEN sum(d.views) > 0 THEN sum(d.purchases)::numeric / sum(d.views) * 100 END
               AS conversion_rate
    FROM {schema}.daily_product_sales d, latest
    WHERE d.day >= latest.latest_day - 2 AND d.day <= latest.latest_day
    GROUP BY d.day
),
hours AS (
    SELECT (h.hour AT TIME ZONE 'UTC')::date AS day, count(*) AS hours
    FROM {schema}.hourly_sales h, latest
    WHERE h.hour >= (latest.latest_day - 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1
),
top AS (
    SELECT DISTINCT ON (cr.day) cr.day, cr.category, cr.revenue
    FROM {schema}.category_revenue cr, latest
    WHERE cr.day >= latest.latest_day - 1 AND cr.day <= latest.latest_day
    ORDER BY cr.day, cr.revenue DESC, cr.category
)
SELECT {select}
FROM per_day c
CROSS JOIN latest
LEFT JOIN per_day p ON p.day = c.day - 1
LEFT JOIN hours ON hours.day = c.day
LEFT JOIN top ON top.day = c.day
WHERE c.day >= latest.latest_day - 1;
""",
)

HOURLY_TOTALS = MetricTable(
    "hourly_totals",
    role="app",
    description="Views, cart adds, purchases and revenue per hour of the latest day.",
    columns=(
        C("hour", "timestamptz NOT NULL", "h.hour"),
        C("hour_of_day", "integer NOT NULL", "extract(hour FROM h.hour AT TIME ZONE 'UTC')::int",
          "0-23 (UTC)"),
        C("time_of_day_bucket", "text NOT NULL", "h.time_of_day_bucket"),
        C("products", "integer NOT NULL", "h.products", "rows of `sales` in the hour"),
        C("views", "bigint NOT NULL", "h.views"),
        C("cart_adds", "bigint NOT NULL", "h.cart_adds"),
        C("purchases", "bigint NOT NULL", "h.purchases"),
        C("revenue", "double precision NOT NULL", "(h.revenue_cents / 100.0)::float8"),
        C("conversion_rate", "double precision",
          "CASE WHEN h.views > 0 THEN h.purchases::float8 / h.views * 100 END", _CONVERSION),
        _UPDATED,
    ),
    key=("hour",),
    upstream=("hourly_sales", "daily_product_sales"),
    preview_order=("hour",),
    refresh="""
DELETE FROM {table};
INSERT INTO {table} ({columns})
SELECT {select}
FROM {schema}.hourly_sales h
WHERE h.hour >= (SELECT max(day) FROM {schema}.daily_product_sales)::timestamp AT TIME ZONE 'UTC';
""",
)

# each column an aggregate over the latest day's rows of a product (the rank a window over them)
HOT_PRODUCTS = MetricTable(
    "hot_products",
    role="app",
    description=f"Top {HOT_PRODUCTS_LIMIT} products by purchases on the latest day, with "
    "revenue, name, image and category.",
    columns=(
        C("rank", "integer NOT NULL",
          "row_number() OVER (ORDER BY sum(d.purchases) DESC, sum(d.revenue_cents) DESC,"
          " d.product_id)::int",
          "1 = most purchases; ties by revenue, then product_id"),
        C("day", "date NOT NULL", "d.day"),
        C("product_id", "text NOT NULL", "d.product_id"),
        C("product_name", "text NOT NULL", "max(d.product_name)"),
        C("product_image", "text NOT NULL", "max(d.product_image)"),
        C("category", "text NOT NULL", "max(d.category)"),
        C("purchases", "bigint NOT NULL", "sum(d.purchases)"),
        C("revenue", "double precision NOT NULL", "(sum(d.revenue_cents) / 100.0)::float8"),
        C("views", "bigint NOT NULL", "sum(d.views)"),
        C("cart_adds", "bigint NOT NULL", "sum(d.cart_adds)"),
        C("conversion_rate", "double precision",
          "CASE WHEN sum(d.views) > 0 THEN sum(d.purchases)::float8 / sum(d.views) * 100 END",
          _CONVERSION),
        _UPDATED,
    ),
    key=("rank",),
    upstream=("daily_product_sales",),
    preview_order=("rank",),
    refresh="""
DELETE FROM {table};
INSERT INTO {table} ({columns})
SELECT {select}
FROM {schema}.daily_product_sales d
WHERE d.day = (SELECT max(day) FROM {schema}.daily_product_sales)
GROUP BY d.day, d.product_id
ORDER BY 1
LIMIT %(hot_limit)s;
""",
)

PRODUCT_STATS = MetricTable(
    "product_stats",
    role="app",
    description="Per product: totals, revenue, average rating and price, the latest day's "
    "revenue and the latest rating.",
    columns=(
        C("product_id", "text NOT NULL", "t.product_id"),
        C("product_name", "text NOT NULL", "last.product_name", "as of its latest hour"),
        C("product_image", "text NOT NULL", "last.product_image", "as of its latest hour"),
        C("category", "text NOT NULL", "last.category", "as of its latest hour"),
        C("hours", "bigint NOT NULL", "t.hours"),
        C("total_views", "bigint NOT NULL", "t.views"),
        C("total_cart_adds", "bigint NOT NULL", "t.cart_adds"),
        C("total_purchases", "bigint NOT NULL", "t.purchases"),
        C("total_revenue", "double precision NOT NULL", "(t.revenue_cents / 100.0)::float8"),
        C("avg_rating", "double precision NOT NULL",
          "(t.rating_milli_sum / 1000.0 / t.hours)::float8"),
        C("avg_price", "double precision NOT NULL",
          "(t.price_cents_sum / 100.0 / t.hours)::float8"),
        C("conversion_rate", "double precision",
          "CASE WHEN t.views > 0 THEN t.purchases::float8 / t.views * 100 END", _CONVERSION),
        C("latest_day", "date NOT NULL", "latest.latest_day"),
        C("latest_day_revenue", "double precision NOT NULL",
          "(coalesce(today.revenue_cents, 0) / 100.0)::float8"),
        C("latest_day_purchases", "bigint NOT NULL", "coalesce(today.purchases, 0)",
          "0 when the product sold nothing that day"),
        C("latest_rating", "double precision NOT NULL", "last.rating"),
        C("latest_hour", "timestamptz NOT NULL", 'last."timestamp"'),
        _UPDATED,
    ),
    key=("product_id",),
    # reads the newest row of each product from `sales` (one index probe per product)
    upstream=("product_bucket_totals", "daily_product_sales", "sales"),
    preview_order=("total_revenue DESC",),
    refresh="""
DELETE FROM {table};
INSERT INTO {table} ({columns})
WITH latest AS (SELECT (SELECT max(day) FROM {schema}.daily_product_sales) AS latest_day),
totals AS (
    SELECT product_id, sum(hours) AS hours, sum(views) AS views, sum(cart_adds) AS cart_adds,
           sum(purchases) AS purchases, sum(revenue_cents) AS revenue_cents,
           sum(price_cents_sum) AS price_cents_sum, sum(rating_milli_sum) AS rating_milli_sum
    FROM {schema}.product_bucket_totals
    GROUP BY product_id
),
today AS (
    SELECT d.product_id, sum(d.revenue_cents) AS revenue_cents, sum(d.purchases) AS purchases
    FROM {schema}.daily_product_sales d, latest
    WHERE d.day = latest.latest_day
    GROUP BY d.product_id
)
SELECT {select}
FROM totals t
CROSS JOIN latest
CROSS JOIN LATERAL (
    SELECT s.product_name, s.product_image, s.category, s.rating, s."timestamp"
    FROM {sales} s
    WHERE s.product_id = t.product_id
    ORDER BY s."timestamp" DESC
    LIMIT 1
) last
LEFT JOIN today ON today.product_id = t.product_id;
""",
)

AVG_PURCHASES_BY_BUCKET = MetricTable(
    "avg_purchases_by_bucket",
    role="app",
    description="Per product and time-of-day bucket: average views, cart adds and purchases "
    "per hour, price, rating and popularity factor (with `products`, the model's what-if inputs).",
    columns=(
        C("product_id", "text NOT NULL", "product_id"),
        C("time_of_day_bucket", "text NOT NULL", "time_of_day_bucket"),
        C("hours", "bigint NOT NULL", "hours", "hours of history in the bucket"),
        C("avg_views", "double precision NOT NULL", "views::float8 / hours", "per hour"),
        C("avg_cart_adds", "double precision NOT NULL", "cart_adds::float8 / hours", "per hour"),
        C("avg_purchases", "double precision NOT NULL", "purchases::float8 / hours", "per hour"),
        C("avg_price", "double precision NOT NULL", "(price_cents_sum / 100.0 / hours)::float8"),
        C("avg_rating", "double precision NOT NULL", "(rating_milli_sum / 1000.0 / hours)::float8"),
        C("avg_popularity_factor", "double precision NOT NULL",
          "(popularity_milli_sum / 1000.0 / hours)::float8", "mean of `sales.popularity_factor`"),
        C("conversion_rate", "double precision",
          "CASE WHEN views > 0 THEN purchases::float8 / views * 100 END", _CONVERSION),
        _UPDATED,
    ),
    key=("product_id", "time_of_day_bucket"),
    upstream=("product_bucket_totals",),
    preview_order=("product_id", "time_of_day_bucket"),
    refresh="""
DELETE FROM {table};
INSERT INTO {table} ({columns})
SELECT {select}
FROM {schema}.product_bucket_totals;
""",
)

# --- the refresh log (not an asset: every refresh appends its row) ----------------------------

REFRESH_LOG = MetricTable(
    "refresh_log",
    role="log",
    description="One row per refresh (append-only), so the app can show how fresh the data is.",
    columns=(
        C("id", "bigint GENERATED ALWAYS AS IDENTITY"),
        C("refreshed_at", "timestamptz NOT NULL DEFAULT now()"),
        C("mode", "text NOT NULL", "%(mode)s", "'incremental' | 'full'"),
        C("window_start", "timestamptz", "%(ts0)s", "the UTC days re-aggregated, [start, end)"),
        C("window_end", "timestamptz", "%(ts1)s"),
        C("sales_rows", "bigint NOT NULL", "%(sales_rows)s", "rows of `sales` read"),
        C("latest_hour", "timestamptz", "(SELECT max(hour) FROM {schema}.hourly_sales)",
          "the newest hour in the metrics"),
        C("duration_ms", "double precision NOT NULL", "%(duration_ms)s"),
    ),
    key=("id",),
    preview_order=("id DESC",),
    refresh="""
INSERT INTO {table} ({columns})
VALUES ({select});
""",
)

#: Every table, in the order of the refresh (within each role).
DECLARED = (
    DAILY_PRODUCT_SALES,
    HOURLY_SALES,
    PRODUCT_BUCKET_TOTALS,
    CATEGORY_REVENUE,  # first of the app's: it feeds the dashboard's top category
    DASHBOARD_SUMMARY,
    HOURLY_TOTALS,
    HOT_PRODUCTS,
    PRODUCT_STATS,
    AVG_PURCHASES_BY_BUCKET,
    REFRESH_LOG,
)
# fmt: on
