"""The pre-aggregated metric tables in schema `analytics`: DDL, SQL and the incremental refresh.

The app reads ONLY the tables below (never `public.sales`). Every app-facing table carries
`updated_at` (when the refresh that wrote it committed); `analytics.refresh_log` records each
refresh, so the app can show how fresh the data is. Days are UTC dates. Money is in the shop's
currency as `double precision` rounded to cents; percentages are plain numbers (12.5 means 12.5 %).
"Latest day" is the newest UTC date present in `sales` (it may still be filling up: see `hours`).

App-facing tables
-----------------
analytics.dashboard_summary (2 rows: the latest day and the day before; PK day)
    day date, is_latest boolean, hours int (hours with data that day), revenue (Σ current_price ×
    purchases), items_sold bigint (Σ purchases), views bigint, cart_adds bigint,
    conversion_rate (purchases / views × 100), revenue_change_pct, items_sold_change_pct,
    conversion_rate_change_pct (each the % change from the previous day; NULL when that day has
    no data), top_category text, top_category_revenue, updated_at.
analytics.hourly_totals (the hours of the latest day; PK hour)
    hour timestamptz, hour_of_day int (0-23 UTC), time_of_day_bucket text, products int (rows),
    views, cart_adds, purchases bigint, revenue, conversion_rate, updated_at.
analytics.category_revenue (every day × category; PK (day, category))
    day date, category text, revenue, items_sold bigint, views bigint, cart_adds bigint,
    previous_revenue (same category, day − 1; NULL if none), revenue_change_pct (NULL if none),
    has_increased boolean (revenue > previous_revenue; false when there is no previous day),
    updated_at.
analytics.hot_products (top HOT_PRODUCTS_LIMIT by purchases on the latest day; PK rank)
    rank int (1 = most purchases; ties by revenue, then product_id), day date, product_id,
    product_name, product_image, category text, purchases bigint, revenue, views bigint,
    cart_adds bigint, conversion_rate, updated_at.
analytics.product_stats (one row per product with any sales; PK product_id)
    product_id, product_name, product_image, category text (as of its latest hour), hours bigint,
    total_views, total_cart_adds, total_purchases bigint, total_revenue, avg_rating, avg_price,
    conversion_rate, latest_day date, latest_day_revenue, latest_day_purchases bigint (0 when the
    product sold nothing that day), latest_rating, latest_hour timestamptz, updated_at.
analytics.avg_purchases_by_bucket (per product × time-of-day bucket; PK (product_id, bucket))
    product_id, time_of_day_bucket text, hours bigint, avg_views, avg_cart_adds, avg_purchases,
    avg_price, avg_rating, conversion_rate, updated_at. (Per-hour averages over all history: the
    model's prediction inputs for a product and bucket.)
analytics.refresh_log (append-only; PK id)
    id bigint, refreshed_at timestamptz, mode text ('incremental' | 'full'), window_start,
    window_end timestamptz (the UTC days re-aggregated, [start, end)), sales_rows bigint (rows of
    `sales` read), latest_hour timestamptz (newest hour in the metrics), duration_ms.

Base aggregates (incremental; the derived tables above are refreshed from these)
------------------------------------------------------------------------------
analytics.daily_product_sales: per UTC day × product × bucket.
(Integer sums, so that adding and removing days is exact: money in cents, ratings in thousandths.)
analytics.hourly_sales: per hour, all products (the whole hourly history).
analytics.product_bucket_totals: per product × bucket over all history, kept by deltas.

An hourly refresh re-aggregates only the UTC days its window touches from `sales` (by the
timestamp index), applies the change to the running totals, then rebuilds the small derived
tables from the base aggregates: its cost does not grow with the history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.warehouse.io import lock_key

SCHEMA = "analytics"
HOT_PRODUCTS_LIMIT = 10

# name -> column definitions; the app-facing column sets are listed in the module docstring.
TABLES: dict[str, list[tuple[str, str]]] = {
    "daily_product_sales": [
        ("day", "date NOT NULL"),
        ("product_id", "text NOT NULL"),
        ("time_of_day_bucket", "text NOT NULL"),
        ("product_name", "text NOT NULL"),
        ("product_image", "text NOT NULL"),
        ("category", "text NOT NULL"),
        ("hours", "integer NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("purchases", "bigint NOT NULL"),
        ("revenue_cents", "bigint NOT NULL"),
        ("price_cents_sum", "bigint NOT NULL"),
        ("rating_milli_sum", "bigint NOT NULL"),
        ("min_price", "double precision NOT NULL"),
        ("max_price", "double precision NOT NULL"),
    ],
    "hourly_sales": [
        ("hour", "timestamptz NOT NULL"),
        ("time_of_day_bucket", "text NOT NULL"),
        ("products", "integer NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("purchases", "bigint NOT NULL"),
        ("revenue_cents", "bigint NOT NULL"),
    ],
    "product_bucket_totals": [
        ("product_id", "text NOT NULL"),
        ("time_of_day_bucket", "text NOT NULL"),
        ("hours", "bigint NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("purchases", "bigint NOT NULL"),
        ("revenue_cents", "bigint NOT NULL"),
        ("price_cents_sum", "bigint NOT NULL"),
        ("rating_milli_sum", "bigint NOT NULL"),
    ],
    "dashboard_summary": [
        ("day", "date NOT NULL"),
        ("is_latest", "boolean NOT NULL"),
        ("hours", "integer NOT NULL"),
        ("revenue", "double precision NOT NULL"),
        ("items_sold", "bigint NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("conversion_rate", "double precision"),
        ("revenue_change_pct", "double precision"),
        ("items_sold_change_pct", "double precision"),
        ("conversion_rate_change_pct", "double precision"),
        ("top_category", "text"),
        ("top_category_revenue", "double precision"),
        ("updated_at", "timestamptz NOT NULL"),
    ],
    "hourly_totals": [
        ("hour", "timestamptz NOT NULL"),
        ("hour_of_day", "integer NOT NULL"),
        ("time_of_day_bucket", "text NOT NULL"),
        ("products", "integer NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("purchases", "bigint NOT NULL"),
        ("revenue", "double precision NOT NULL"),
        ("conversion_rate", "double precision"),
        ("updated_at", "timestamptz NOT NULL"),
    ],
    "category_revenue": [
        ("day", "date NOT NULL"),
        ("category", "text NOT NULL"),
        ("revenue", "double precision NOT NULL"),
        ("items_sold", "bigint NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("previous_revenue", "double precision"),
        ("revenue_change_pct", "double precision"),
        ("has_increased", "boolean NOT NULL"),
        ("updated_at", "timestamptz NOT NULL"),
    ],
    "hot_products": [
        ("rank", "integer NOT NULL"),
        ("day", "date NOT NULL"),
        ("product_id", "text NOT NULL"),
        ("product_name", "text NOT NULL"),
        ("product_image", "text NOT NULL"),
        ("category", "text NOT NULL"),
        ("purchases", "bigint NOT NULL"),
        ("revenue", "double precision NOT NULL"),
        ("views", "bigint NOT NULL"),
        ("cart_adds", "bigint NOT NULL"),
        ("conversion_rate", "double precision"),
        ("updated_at", "timestamptz NOT NULL"),
    ],
    "product_stats": [
        ("product_id", "text NOT NULL"),
        ("product_name", "text NOT NULL"),
        ("product_image", "text NOT NULL"),
        ("category", "text NOT NULL"),
        ("hours", "bigint NOT NULL"),
        ("total_views", "bigint NOT NULL"),
        ("total_cart_adds", "bigint NOT NULL"),
        ("total_purchases", "bigint NOT NULL"),
        ("total_revenue", "double precision NOT NULL"),
        ("avg_rating", "double precision NOT NULL"),
        ("avg_price", "double precision NOT NULL"),
        ("conversion_rate", "double precision"),
        ("latest_day", "date NOT NULL"),
        ("latest_day_revenue", "double precision NOT NULL"),
        ("latest_day_purchases", "bigint NOT NULL"),
        ("latest_rating", "double precision NOT NULL"),
        ("latest_hour", "timestamptz NOT NULL"),
        ("updated_at", "timestamptz NOT NULL"),
    ],
    "avg_purchases_by_bucket": [
        ("product_id", "text NOT NULL"),
        ("time_of_day_bucket", "text NOT NULL"),
        ("hours", "bigint NOT NULL"),
        ("avg_views", "double precision NOT NULL"),
        ("avg_cart_adds", "double precision NOT NULL"),
        ("avg_purchases", "double precision NOT NULL"),
        ("avg_price", "double precision NOT NULL"),
        ("avg_rating", "double precision NOT NULL"),
        ("conversion_rate", "double precision"),
        ("updated_at", "timestamptz NOT NULL"),
    ],
    "refresh_log": [
        ("id", "bigint GENERATED ALWAYS AS IDENTITY"),
        ("refreshed_at", "timestamptz NOT NULL DEFAULT now()"),
        ("mode", "text NOT NULL"),
        ("window_start", "timestamptz"),
        ("window_end", "timestamptz"),
        ("sales_rows", "bigint NOT NULL"),
        ("latest_hour", "timestamptz"),
        ("duration_ms", "double precision NOT NULL"),
    ],
}

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "daily_product_sales": ("day", "product_id", "time_of_day_bucket"),
    "hourly_sales": ("hour",),
    "product_bucket_totals": ("product_id", "time_of_day_bucket"),
    "dashboard_summary": ("day",),
    "hourly_totals": ("hour",),
    "category_revenue": ("day", "category"),
    "hot_products": ("rank",),
    "product_stats": ("product_id",),
    "avg_purchases_by_bucket": ("product_id", "time_of_day_bucket"),
    "refresh_log": ("id",),
}

BASE_TABLES = ["daily_product_sales", "hourly_sales", "product_bucket_totals"]
APP_TABLES = [  # in dependency order (category_revenue feeds the dashboard's top category)
    "category_revenue",
    "dashboard_summary",
    "hourly_totals",
    "hot_products",
    "product_stats",
    "avg_purchases_by_bucket",
]
METRIC_TABLES = BASE_TABLES + APP_TABLES


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]


def _table_ddl(table: str) -> str:
    body = [f"    {name} {kind}" for name, kind in TABLES[table]]
    body.append(f"    PRIMARY KEY ({', '.join(PRIMARY_KEYS[table])})")
    return f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} (\n" + ",\n".join(body) + "\n);\n"


METRICS_DDL = f"CREATE SCHEMA IF NOT EXISTS {SCHEMA};\n" + "".join(_table_ddl(t) for t in TABLES)

# --- the refresh, statement by statement ------------------------------------------------------
# Parameters: %(day0)s/%(day1)s are the UTC days [day0, day1) to re-aggregate, and %(ts0)s/%(ts1)s
# the same window as timestamptz, so that `sales` is read through its timestamp index.

CAPTURE_OLD_TOTALS = """
CREATE TEMP TABLE IF NOT EXISTS _bucket_delta (
    product_id text, time_of_day_bucket text, hours bigint, views bigint, cart_adds bigint,
    purchases bigint, revenue_cents bigint, price_cents_sum bigint, rating_milli_sum bigint
) ON COMMIT DROP;
INSERT INTO _bucket_delta
SELECT product_id, time_of_day_bucket, -hours, -views, -cart_adds, -purchases,
       -revenue_cents, -price_cents_sum, -rating_milli_sum
FROM analytics.daily_product_sales
WHERE day >= %(day0)s AND day < %(day1)s;
"""

DELETE_DAILY = "DELETE FROM analytics.daily_product_sales WHERE day >= %(day0)s AND day < %(day1)s;"

INSERT_DAILY = """
INSERT INTO analytics.daily_product_sales (day, product_id, time_of_day_bucket, product_name,
    product_image, category, hours, views, cart_adds, purchases, revenue_cents, price_cents_sum,
    rating_milli_sum, min_price, max_price)
SELECT ("timestamp" AT TIME ZONE 'UTC')::date, product_id, time_of_day_bucket,
       max(product_name), max(product_image), max(category),
       count(*), sum(views), sum(cart_adds), sum(purchases),
       sum(round(current_price * 100)::bigint * purchases), sum(round(current_price * 100)::bigint),
       sum(round(rating * 1000)::bigint), min(current_price), max(current_price)
FROM public.sales
WHERE "timestamp" >= %(ts0)s AND "timestamp" < %(ts1)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
"""

CAPTURE_NEW_TOTALS = """
INSERT INTO _bucket_delta
SELECT product_id, time_of_day_bucket, hours, views, cart_adds, purchases, revenue_cents,
       price_cents_sum, rating_milli_sum
FROM analytics.daily_product_sales
WHERE day >= %(day0)s AND day < %(day1)s;
"""

APPLY_TOTALS_DELTA = """
INSERT INTO analytics.product_bucket_totals AS t
SELECT product_id, time_of_day_bucket, sum(hours), sum(views), sum(cart_adds), sum(purchases),
       sum(revenue_cents), sum(price_cents_sum), sum(rating_milli_sum)
FROM _bucket_delta
GROUP BY product_id, time_of_day_bucket
ON CONFLICT (product_id, time_of_day_bucket) DO UPDATE SET
    hours = t.hours + excluded.hours,
    views = t.views + excluded.views,
    cart_adds = t.cart_adds + excluded.cart_adds,
    purchases = t.purchases + excluded.purchases,
    revenue_cents = t.revenue_cents + excluded.revenue_cents,
    price_cents_sum = t.price_cents_sum + excluded.price_cents_sum,
    rating_milli_sum = t.rating_milli_sum + excluded.rating_milli_sum;
DELETE FROM analytics.product_bucket_totals WHERE hours <= 0;
"""

REBUILD_TOTALS = """
INSERT INTO analytics.product_bucket_totals
SELECT product_id, time_of_day_bucket, sum(hours), sum(views), sum(cart_adds), sum(purchases),
       sum(revenue_cents), sum(price_cents_sum), sum(rating_milli_sum)
FROM analytics.daily_product_sales
GROUP BY product_id, time_of_day_bucket;
"""

REPLACE_HOURLY = """
DELETE FROM analytics.hourly_sales WHERE hour >= %(ts0)s AND hour < %(ts1)s;
INSERT INTO analytics.hourly_sales
SELECT "timestamp", max(time_of_day_bucket), count(*), sum(views), sum(cart_adds), sum(purchases),
       sum(round(current_price * 100)::bigint * purchases)
FROM public.sales
WHERE "timestamp" >= %(ts0)s AND "timestamp" < %(ts1)s
GROUP BY "timestamp";
"""

# The day after the window too: its previous_revenue / has_increased depend on the window's last day.
REPLACE_CATEGORY_REVENUE = """
DELETE FROM analytics.category_revenue WHERE day >= %(day0)s AND day <= %(day1)s;
INSERT INTO analytics.category_revenue
WITH per_day AS (
    SELECT day, category, sum(revenue_cents) / 100.0 AS revenue, sum(purchases) AS items_sold,
           sum(views) AS views, sum(cart_adds) AS cart_adds
    FROM analytics.daily_product_sales
    WHERE day >= %(day0)s - 1 AND day <= %(day1)s
    GROUP BY day, category
)
SELECT c.day, c.category, c.revenue::float8, c.items_sold, c.views, c.cart_adds,
       p.revenue::float8,
       CASE WHEN p.revenue > 0 THEN ((c.revenue - p.revenue) / p.revenue * 100)::float8 END,
       coalesce(c.revenue > p.revenue, false),
       now()
FROM per_day c
LEFT JOIN per_day p ON p.category = c.category AND p.day = c.day - 1
WHERE c.day >= %(day0)s;
"""

REFRESH_DASHBOARD = """
DELETE FROM analytics.dashboard_summary;
INSERT INTO analytics.dashboard_summary
WITH latest AS (SELECT (SELECT max(day) FROM analytics.daily_product_sales) AS latest_day),
per_day AS (
    SELECT d.day, sum(d.revenue_cents) / 100.0 AS revenue, sum(d.purchases) AS items_sold,
           sum(d.views) AS views, sum(d.cart_adds) AS cart_adds,
           CASE WHEN sum(d.views) > 0 THEN sum(d.purchases)::numeric / sum(d.views) * 100 END
               AS conversion_rate
    FROM analytics.daily_product_sales d, latest
    WHERE d.day >= latest.latest_day - 2 AND d.day <= latest.latest_day
    GROUP BY d.day
),
hours AS (
    SELECT (h.hour AT TIME ZONE 'UTC')::date AS day, count(*) AS hours
    FROM analytics.hourly_sales h, latest
    WHERE h.hour >= (latest.latest_day - 1)::timestamp AT TIME ZONE 'UTC'
    GROUP BY 1
),
top AS (
    SELECT DISTINCT ON (cr.day) cr.day, cr.category, cr.revenue
    FROM analytics.category_revenue cr, latest
    WHERE cr.day >= latest.latest_day - 1 AND cr.day <= latest.latest_day
    ORDER BY cr.day, cr.revenue DESC, cr.category
)
SELECT c.day, c.day = latest.latest_day, coalesce(hours.hours, 0),
       c.revenue::float8, c.items_sold, c.views, c.cart_adds, c.conversion_rate::float8,
       CASE WHEN p.revenue > 0 THEN ((c.revenue - p.revenue) / p.revenue * 100)::float8 END,
       CASE WHEN p.items_sold > 0
            THEN ((c.items_sold - p.items_sold)::numeric / p.items_sold * 100)::float8 END,
       CASE WHEN p.conversion_rate > 0
            THEN ((c.conversion_rate - p.conversion_rate) / p.conversion_rate * 100)::float8 END,
       top.category, top.revenue,
       now()
FROM per_day c
CROSS JOIN latest
LEFT JOIN per_day p ON p.day = c.day - 1
LEFT JOIN hours ON hours.day = c.day
LEFT JOIN top ON top.day = c.day
WHERE c.day >= latest.latest_day - 1;
"""

REFRESH_HOURLY_TOTALS = """
DELETE FROM analytics.hourly_totals;
INSERT INTO analytics.hourly_totals
SELECT h.hour, extract(hour FROM h.hour AT TIME ZONE 'UTC')::int, h.time_of_day_bucket,
       h.products, h.views, h.cart_adds, h.purchases, (h.revenue_cents / 100.0)::float8,
       CASE WHEN h.views > 0 THEN h.purchases::float8 / h.views * 100 END,
       now()
FROM analytics.hourly_sales h
WHERE h.hour >= (SELECT max(day) FROM analytics.daily_product_sales)::timestamp AT TIME ZONE 'UTC';
"""

REFRESH_HOT_PRODUCTS = """
DELETE FROM analytics.hot_products;
INSERT INTO analytics.hot_products
SELECT row_number() OVER (ORDER BY x.purchases DESC, x.revenue_cents DESC, x.product_id)::int,
       x.day, x.product_id, x.product_name, x.product_image, x.category, x.purchases,
       (x.revenue_cents / 100.0)::float8, x.views, x.cart_adds,
       CASE WHEN x.views > 0 THEN x.purchases::float8 / x.views * 100 END,
       now()
FROM (
    SELECT d.day, d.product_id, max(d.product_name) AS product_name,
           max(d.product_image) AS product_image, max(d.category) AS category,
           sum(d.purchases) AS purchases, sum(d.revenue_cents) AS revenue_cents, sum(d.views) AS views,
           sum(d.cart_adds) AS cart_adds
    FROM analytics.daily_product_sales d
    WHERE d.day = (SELECT max(day) FROM analytics.daily_product_sales)
    GROUP BY d.day, d.product_id
) x
ORDER BY 1
LIMIT %(hot_limit)s;
"""

REFRESH_PRODUCT_STATS = """
DELETE FROM analytics.product_stats;
INSERT INTO analytics.product_stats
WITH latest AS (SELECT (SELECT max(day) FROM analytics.daily_product_sales) AS latest_day),
totals AS (
    SELECT product_id, sum(hours) AS hours, sum(views) AS views, sum(cart_adds) AS cart_adds,
           sum(purchases) AS purchases, sum(revenue_cents) AS revenue_cents,
           sum(price_cents_sum) AS price_cents_sum, sum(rating_milli_sum) AS rating_milli_sum
    FROM analytics.product_bucket_totals
    GROUP BY product_id
),
today AS (
    SELECT d.product_id, sum(d.revenue_cents) AS revenue_cents, sum(d.purchases) AS purchases
    FROM analytics.daily_product_sales d, latest
    WHERE d.day = latest.latest_day
    GROUP BY d.product_id
)
SELECT t.product_id, last.product_name, last.product_image, last.category, t.hours, t.views,
       t.cart_adds, t.purchases, (t.revenue_cents / 100.0)::float8,
       (t.rating_milli_sum / 1000.0 / t.hours)::float8, (t.price_cents_sum / 100.0 / t.hours)::float8,
       CASE WHEN t.views > 0 THEN t.purchases::float8 / t.views * 100 END,
       latest.latest_day, (coalesce(today.revenue_cents, 0) / 100.0)::float8,
       coalesce(today.purchases, 0), last.rating, last."timestamp",
       now()
FROM totals t
CROSS JOIN latest
CROSS JOIN LATERAL (
    SELECT s.product_name, s.product_image, s.category, s.rating, s."timestamp"
    FROM public.sales s
    WHERE s.product_id = t.product_id
    ORDER BY s."timestamp" DESC
    LIMIT 1
) last
LEFT JOIN today ON today.product_id = t.product_id;
"""

REFRESH_AVG_BY_BUCKET = """
DELETE FROM analytics.avg_purchases_by_bucket;
INSERT INTO analytics.avg_purchases_by_bucket
SELECT product_id, time_of_day_bucket, hours, views::float8 / hours, cart_adds::float8 / hours,
       purchases::float8 / hours, (price_cents_sum / 100.0 / hours)::float8,
       (rating_milli_sum / 1000.0 / hours)::float8,
       CASE WHEN views > 0 THEN purchases::float8 / views * 100 END,
       now()
FROM analytics.product_bucket_totals;
"""

DERIVED_REFRESH = [
    REFRESH_DASHBOARD,
    REFRESH_HOURLY_TOTALS,
    REFRESH_HOT_PRODUCTS,
    REFRESH_PRODUCT_STATS,
    REFRESH_AVG_BY_BUCKET,
]

LOG_REFRESH = """
INSERT INTO analytics.refresh_log (mode, window_start, window_end, sales_rows, latest_hour,
    duration_ms)
VALUES (%(mode)s, %(ts0)s, %(ts1)s, %(sales_rows)s,
        (SELECT max(hour) FROM analytics.hourly_sales), %(duration_ms)s);
"""


@dataclass
class RefreshStats:
    """What one refresh did: for logs, asset metadata and the benchmark."""

    mode: str
    window_start: datetime | None
    window_end: datetime | None
    sales_rows: int = 0
    latest_day: date | None = None
    duration_s: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def day_window(start: datetime, end: datetime) -> tuple[date, date]:
    """The UTC days [day0, day1) that the hours [start, end) touch."""
    if end <= start:
        raise ValueError(f"empty window: end {end.isoformat()} is not after {start.isoformat()}")
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return first, last + timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=UTC)


def ensure_metric_tables(conn: PgConnection) -> bool:
    """Create the schema and tables if missing (idempotent; serialized against other creators).

    A table whose columns differ from `TABLES` (an older version of this module) is dropped and
    created anew; the return value says so, and the caller must then rebuild in full.
    """
    with conn:
        lock_key(conn, SCHEMA, "ddl")
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position)"
                " FROM information_schema.columns WHERE table_schema = %s GROUP BY table_name",
                (SCHEMA,),
            )
            existing = dict(cur.fetchall())
            stale = [t for t in TABLES if t in existing and existing[t] != columns(t)]
            for table in stale:
                cur.execute(f"DROP TABLE {SCHEMA}.{table}")
            cur.execute(METRICS_DDL)
    return bool(stale)


def never_refreshed(conn: PgConnection) -> bool:
    """True until the first refresh has committed (its row in `refresh_log`)."""
    with conn.cursor() as cur:
        cur.execute("SELECT NOT EXISTS (SELECT 1 FROM analytics.refresh_log)")
        out = bool(cur.fetchone()[0])
    conn.rollback()
    return out


def refresh_metrics(
    conn: PgConnection,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    hot_limit: int = HOT_PRODUCTS_LIMIT,
) -> RefreshStats:
    """Bring every metric table up to date with `sales`, in one transaction.

    With a window [start, end) (UTC hours: a partition or a range), only the UTC days it touches
    are re-aggregated from `sales`; with no window, everything is rebuilt from scratch. Either
    way the result is the same (the tests hold it to that). Concurrent refreshes are serialized
    by an advisory lock, so the running totals never double-count.
    """
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither for a full rebuild")
    t0 = time.perf_counter()
    full = start is None
    stats = RefreshStats("full" if full else "incremental", start, end)
    with conn:  # one transaction: commit on success, roll back on any error
        lock_key(conn, SCHEMA, "refresh")
        with conn.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '64MB'")  # one in-memory hash aggregate per scan
            if full:
                cur.execute(
                    'SELECT min("timestamp"), max("timestamp") FROM public.sales'
                )  # index-only: the ends of the timestamp index
                lo, hi = cur.fetchone()
                cur.execute(
                    "TRUNCATE analytics.daily_product_sales, analytics.hourly_sales,"
                    " analytics.product_bucket_totals, analytics.category_revenue"
                )
                if lo is None:
                    day0 = day1 = datetime.now(UTC).date()
                else:
                    day0, day1 = day_window(lo, hi + timedelta(hours=1))
            else:
                day0, day1 = day_window(start, end)
            params = {
                "day0": day0,
                "day1": day1,
                "ts0": _midnight(day0),
                "ts1": _midnight(day1),
                "hot_limit": hot_limit,
            }
            stats.window_start, stats.window_end = params["ts0"], params["ts1"]
            if not full:
                cur.execute(CAPTURE_OLD_TOTALS, params)
                cur.execute(DELETE_DAILY, params)
            cur.execute(INSERT_DAILY, params)
            stats.rows["daily_product_sales"] = cur.rowcount
            if full:
                cur.execute(REBUILD_TOTALS)
            else:
                cur.execute(CAPTURE_NEW_TOTALS, params)
                cur.execute(APPLY_TOTALS_DELTA)
            cur.execute(REPLACE_HOURLY, params)
            stats.rows["hourly_sales"] = cur.rowcount
            cur.execute("SELECT coalesce(sum(products), 0) FROM analytics.hourly_sales"
                        " WHERE hour >= %(ts0)s AND hour < %(ts1)s", params)  # fmt: skip
            stats.sales_rows = int(cur.fetchone()[0])
            cur.execute(REPLACE_CATEGORY_REVENUE, params)
            stats.rows["category_revenue"] = cur.rowcount
            for statement in DERIVED_REFRESH:
                cur.execute(statement, params)
            cur.execute("SELECT max(day) FROM analytics.daily_product_sales")
            stats.latest_day = cur.fetchone()[0]
            stats.duration_s = time.perf_counter() - t0
            cur.execute(
                LOG_REFRESH,
                {
                    **params,
                    "mode": stats.mode,
                    "sales_rows": stats.sales_rows,
                    "duration_ms": stats.duration_s * 1000,
                },
            )
    return stats


def table_counts(conn: PgConnection, tables: list[str] | None = None) -> dict[str, int]:
    """Row counts of the metric tables (all small, except the base aggregates' O(days) rows)."""
    out = {}
    with conn.cursor() as cur:
        for table in tables or METRIC_TABLES:
            if table not in TABLES:
                raise ValueError(f"unknown metric table {table!r}")
            cur.execute(f"SELECT count(*) FROM {SCHEMA}.{table}")  # noqa: S608 (known names)
            out[table] = int(cur.fetchone()[0])
    conn.rollback()
    return out
