"""Data-quality rules for `sales` and the metric tables, as SQL run on a window of hours.

Pure (no Dagster): each function returns an `Outcome` (passed, one-line description naming the
hours, products and fields at fault, and plain metadata); `profiteer_pipeline.checks` turns
them into asset check results. Every query reads only the window, through the timestamp index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.synth.constants import (
    CART_FLOOR,
    PRICE_DECIMALS,
    PURCHASE_FLOOR,
    RATING_MAX,
    RATING_MIN,
    VIEWS_FLOOR,
)
from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse.metrics import day_window

EXAMPLES = 5
#: Prices are rounded to cents after clamping, so a price may pass its bound by half a cent.
PRICE_TOLERANCE = 0.5 / 10**PRICE_DECIMALS
#: Text fields that must not be empty ("" is a valid product_image: no image).
REQUIRED_TEXT = [n for n, kind in RECORD_FIELDS.items() if kind == "text" and n != "product_image"]


@dataclass
class Outcome:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _window_meta(start: datetime, end: datetime) -> dict[str, object]:
    return {"window_start": _iso(start), "window_end": _iso(end)}


def sales_exists(conn: PgConnection) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.sales') IS NOT NULL")
        return bool(cur.fetchone()[0])


def latest_hour(conn: PgConnection) -> datetime | None:
    """The newest hour in `sales` (the end of the timestamp index), or None when it is empty."""
    with conn.cursor() as cur:
        cur.execute('SELECT max("timestamp") FROM public.sales')
        return cur.fetchone()[0]


def row_counts(
    conn: PgConnection, start: datetime, end: datetime, product_ids: Sequence[str]
) -> Outcome:
    """Every hour of [start, end) holds exactly one row per catalog product, and no other."""
    expected = len(product_ids)
    ids = list(product_ids)
    with conn.cursor() as cur:
        cur.execute(
            """
            WITH hours AS (
                SELECT generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                       - interval '1 hour', interval '1 hour') AS hour
            ), counts AS (
                SELECT "timestamp" AS hour, count(*) AS n,
                       count(*) FILTER (WHERE NOT (product_id = ANY(%(ids)s))) AS unknown
                FROM public.sales
                WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
                GROUP BY 1
            )
            SELECT h.hour, coalesce(c.n, 0), coalesce(c.unknown, 0)
            FROM hours h LEFT JOIN counts c ON c.hour = h.hour
            WHERE coalesce(c.n, 0) <> %(expected)s OR coalesce(c.unknown, 0) > 0
            ORDER BY h.hour
            """,
            {"start": start, "end": end, "ids": ids, "expected": expected},
        )
        bad = cur.fetchall()
        cur.execute(
            'SELECT count(*) FROM public.sales WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, end),
        )
        total = int(cur.fetchone()[0])
        examples = []
        for hour, n, _unknown in bad[:EXAMPLES]:
            cur.execute(
                """
                SELECT coalesce((SELECT array_agg(id ORDER BY id) FROM unnest(%(ids)s::text[]) id
                                 WHERE NOT EXISTS (SELECT 1 FROM public.sales s
                                                   WHERE s.product_id = id
                                                     AND s."timestamp" = %(hour)s)), '{}'),
                       coalesce((SELECT array_agg(product_id ORDER BY product_id)
                                 FROM public.sales WHERE "timestamp" = %(hour)s
                                   AND NOT (product_id = ANY(%(ids)s))), '{}')
                """,
                {"ids": ids, "hour": hour},
            )
            missing, unknown = cur.fetchone()
            parts = [f"{_iso(hour)} has {n} rows"]
            if missing:
                parts.append("missing " + ", ".join(missing[:EXAMPLES]))
            if unknown:
                parts.append("products not in the catalog: " + ", ".join(unknown[:EXAMPLES]))
            examples.append("; ".join(parts))
    conn.rollback()
    hours = int((end - start).total_seconds() // 3600)
    meta = {
        **_window_meta(start, end),
        "hours_checked": hours,
        "expected_rows_per_hour": expected,
        "rows": total,
        "bad_hours": len(bad),
    }
    if not bad:
        return Outcome(True, f"{hours} hour(s) with {expected} rows each", meta)
    meta["examples"] = "\n".join(examples)
    return Outcome(
        False,
        f"{len(bad)} of {hours} hour(s) do not hold exactly the {expected} catalog products: "
        + " | ".join(examples),
        meta,
    )


def null_values(conn: PgConnection, start: datetime, end: datetime) -> Outcome:
    """No field is NULL, no float is NaN, and no required text is empty, in [start, end)."""
    conditions: dict[str, sql.Composable] = {}
    for name, kind in RECORD_FIELDS.items():
        col = sql.Identifier(name)
        if kind == "float":
            conditions[name] = sql.SQL("({c} IS NULL OR {c} = 'NaN'::float8)").format(c=col)
        elif name in REQUIRED_TEXT:
            conditions[name] = sql.SQL("({c} IS NULL OR btrim({c}) = '')").format(c=col)
        else:
            conditions[name] = sql.SQL("{c} IS NULL").format(c=col)
    counts_query = sql.SQL(
        'SELECT {} FROM public.sales WHERE "timestamp" >= %s AND "timestamp" < %s'
    ).format(
        sql.SQL(", ").join(
            sql.SQL("count(*) FILTER (WHERE {})").format(cond) for cond in conditions.values()
        )
    )
    with conn.cursor() as cur:
        cur.execute(counts_query, (start, end))
        counts = dict(zip(conditions, (int(v) for v in cur.fetchone()), strict=True))
        problems = []
        for name, n in counts.items():
            if not n:
                continue
            cur.execute(
                sql.SQL(
                    'SELECT product_id, "timestamp" FROM public.sales WHERE "timestamp" >= %s'
                    ' AND "timestamp" < %s AND {} ORDER BY "timestamp", product_id LIMIT %s'
                ).format(conditions[name]),
                (start, end, EXAMPLES),
            )
            where = ", ".join(f"{p} at {_iso(t)}" for p, t in cur.fetchall())
            problems.append(f"field {name} is missing in {n} row(s) ({where})")
    conn.rollback()
    meta = {**_window_meta(start, end), **{f"missing_{k}": v for k, v in counts.items() if v}}
    if not problems:
        return Outcome(True, f"no missing values in the {len(RECORD_FIELDS)} record fields", meta)
    return Outcome(False, "; ".join(problems), meta)


#: rule name -> (SQL condition that breaks it, what the breach looks like). The floors and the
#: rating range are the generator's own (``profiteer_pipeline.synth.constants``).
RANGE_RULES: dict[str, tuple[str, str]] = {
    f"views_below_{VIEWS_FLOOR}": (
        f"s.views < {VIEWS_FLOOR}",
        f"views {{views}} < {VIEWS_FLOOR}",
    ),
    f"cart_adds_below_{CART_FLOOR}": (
        f"s.cart_adds < {CART_FLOOR}",
        f"cart_adds {{cart_adds}} < {CART_FLOOR}",
    ),
    "cart_adds_above_views": ("s.cart_adds > s.views", "cart_adds {cart_adds} > views {views}"),
    f"purchases_below_{PURCHASE_FLOOR}": (
        f"s.purchases < {PURCHASE_FLOOR}",
        f"purchases {{purchases}} < {PURCHASE_FLOOR}",
    ),
    "purchases_above_cart_adds": (
        "s.purchases > s.cart_adds",
        "purchases {purchases} > cart_adds {cart_adds}",
    ),
    "price_outside_range": (
        f"(s.current_price < c.min_price - {PRICE_TOLERANCE}"
        f" OR s.current_price > c.max_price + {PRICE_TOLERANCE}"
        " OR s.current_price = 'NaN'::float8)",
        "current_price {current_price} outside [{min_price}, {max_price}]",
    ),
    "product_not_in_catalog": ("c.product_id IS NULL", "not in the catalog (no price range)"),
    "rating_outside_range": (
        f"(s.rating < {RATING_MIN} OR s.rating > {RATING_MAX} OR s.rating = 'NaN'::float8)",
        f"rating {{rating}} outside [{RATING_MIN:g}, {RATING_MAX:g}]",
    ),
}

_RANGE_FROM = """
FROM public.sales s
LEFT JOIN unnest(%(ids)s::text[], %(mins)s::float8[], %(maxs)s::float8[])
    AS c(product_id, min_price, max_price) ON c.product_id = s.product_id
WHERE s."timestamp" >= %(start)s AND s."timestamp" < %(end)s
"""


def value_ranges(
    conn: PgConnection,
    start: datetime,
    end: datetime,
    price_ranges: Sequence[tuple[str, float, float]],
) -> Outcome:
    """views ≥ 100, 1 ≤ cart_adds ≤ views, 1 ≤ purchases ≤ cart_adds, min ≤ price ≤ max, rating in [2, 5].

    The floors and the rating range are the generator's (``synth.constants``: ``VIEWS_FLOOR``,
    ``CART_FLOOR``, ``PURCHASE_FLOOR``, ``RATING_MIN``, ``RATING_MAX``); the numbers above are
    today's values. `price_ranges` is (product_id, min_price, max_price) per catalog product.
    """
    params = {
        "ids": [p for p, _, _ in price_ranges],
        "mins": [float(lo) for _, lo, _ in price_ranges],
        "maxs": [float(hi) for _, _, hi in price_ranges],
        "start": start,
        "end": end,
    }
    names = list(RANGE_RULES)
    counts_sql = (
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {RANGE_RULES[n][0]})" for n in names)
        + _RANGE_FROM
    )
    with conn.cursor() as cur:
        cur.execute(counts_sql, params)
        counts = dict(zip(names, (int(v) for v in cur.fetchone()), strict=True))
        problems = []
        for name in names:
            if not counts[name]:
                continue
            cond, template = RANGE_RULES[name]
            cur.execute(
                'SELECT s.product_id, s."timestamp", s.views, s.cart_adds, s.purchases,'
                " s.current_price, c.min_price, c.max_price, s.rating"
                + _RANGE_FROM
                + f' AND {cond} ORDER BY s."timestamp", s.product_id LIMIT {EXAMPLES}',
                params,
            )
            cols = [d.name for d in cur.description]
            where = []
            for row in cur.fetchall():
                r = dict(zip(cols, row, strict=True))
                where.append(
                    f"{r['product_id']} at {_iso(r['timestamp'])}: " + template.format(**r)
                )
            problems.append(f"{name} in {counts[name]} row(s) ({'; '.join(where)})")
    conn.rollback()
    meta = {**_window_meta(start, end), **{k: v for k, v in counts.items() if v}}
    if not problems:
        return Outcome(True, "every row within the documented ranges", meta)
    return Outcome(False, "; ".join(problems), meta)


def freshness(
    conn: PgConnection, now: datetime, max_age: timedelta = timedelta(hours=2)
) -> Outcome:
    """The newest hour in `sales` ended at most `max_age` before `now`."""
    latest = latest_hour(conn)
    conn.rollback()
    if latest is None:
        return Outcome(False, "sales is empty: no partition has been loaded", {})
    age = now - (latest + timedelta(hours=1))
    meta = {
        "latest_partition": _iso(latest),
        "age_minutes": round(age.total_seconds() / 60, 1),
        "max_age_minutes": max_age.total_seconds() / 60,
    }
    if age <= max_age:
        return Outcome(True, f"latest partition {_iso(latest)} is fresh", meta)
    hours = age.total_seconds() / 3600
    return Outcome(
        False,
        f"latest partition {_iso(latest)} ended {hours:,.1f} h ago "
        f"(more than {max_age.total_seconds() / 3600:g} h): is the hourly schedule running?",
        meta,
    )


def reconcile_metrics(
    conn: PgConnection, start: datetime | None = None, end: datetime | None = None
) -> Outcome:
    """The metrics equal sums over `sales`: the latest day's revenue and items on the dashboard
    (and in the category table), and every day of the window in the daily aggregate."""
    problems: list[str] = []
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('analytics.dashboard_summary') IS NOT NULL")
        if not cur.fetchone()[0]:
            conn.rollback()
            return Outcome(False, "analytics.dashboard_summary does not exist: run the metrics")
        cur.execute(
            "SELECT day, revenue, items_sold FROM analytics.dashboard_summary WHERE is_latest"
        )
        row = cur.fetchone()
        cur.execute("SELECT (max(\"timestamp\") AT TIME ZONE 'UTC')::date FROM public.sales")
        sales_day = cur.fetchone()[0]
        if row is None:
            conn.rollback()
            return Outcome(
                sales_day is None, f"no dashboard row; latest day in sales: {sales_day}", {}
            )
        day, revenue, items = row
        if day != sales_day:
            problems.append(f"dashboard latest day {day} but sales' latest day is {sales_day}")
        cur.execute(
            """
            SELECT round(coalesce(sum(current_price::numeric * purchases), 0), 2)::float8,
                   coalesce(sum(purchases), 0)
            FROM public.sales
            WHERE "timestamp" >= %(day)s::timestamp AT TIME ZONE 'UTC'
              AND "timestamp" < (%(day)s + 1)::timestamp AT TIME ZONE 'UTC'
            """,
            {"day": day},
        )
        want_revenue, want_items = cur.fetchone()
        if abs(revenue - want_revenue) > 0.005:
            problems.append(
                f"revenue on {day}: dashboard {revenue:.2f} != sales {want_revenue:.2f}"
            )
        if items != want_items:
            problems.append(f"items sold on {day}: dashboard {items} != sales {want_items}")
        cur.execute(
            "SELECT coalesce(sum(revenue), 0), coalesce(sum(items_sold), 0)"
            " FROM analytics.category_revenue WHERE day = %s",
            (day,),
        )
        cat_revenue, cat_items = cur.fetchone()
        if abs(cat_revenue - want_revenue) > 0.01 or cat_items != want_items:
            problems.append(
                f"category_revenue on {day}: {cat_revenue:.2f} / {cat_items} items"
                f" != sales {want_revenue:.2f} / {want_items}"
            )
        checked_days = 1
        if start is not None and end is not None:
            day0, day1 = day_window(start, end)
            checked_days = (day1 - day0).days
            cur.execute(
                """
                WITH s AS (
                    SELECT ("timestamp" AT TIME ZONE 'UTC')::date AS day,
                           sum(current_price::numeric * purchases) AS revenue,
                           sum(purchases) AS items, sum(views) AS views
                    FROM public.sales
                    WHERE "timestamp" >= %(day0)s::timestamp AT TIME ZONE 'UTC'
                      AND "timestamp" < %(day1)s::timestamp AT TIME ZONE 'UTC'
                    GROUP BY 1
                ), d AS (
                    SELECT day, sum(revenue_cents) / 100.0 AS revenue, sum(purchases) AS items,
                           sum(views) AS views
                    FROM analytics.daily_product_sales
                    WHERE day >= %(day0)s AND day < %(day1)s
                    GROUP BY 1
                )
                SELECT coalesce(s.day, d.day), s.revenue, d.revenue, s.items, d.items
                FROM s FULL JOIN d ON d.day = s.day
                WHERE s.day IS NULL OR d.day IS NULL OR abs(s.revenue - d.revenue) > 0.005
                   OR s.items <> d.items OR s.views <> d.views
                ORDER BY 1
                """,
                {"day0": day0, "day1": day1},
            )
            for bad_day, s_rev, d_rev, s_items, d_items in cur.fetchall()[:EXAMPLES]:
                problems.append(
                    f"daily_product_sales on {bad_day}: revenue {d_rev} / {d_items} items"
                    f" != sales {s_rev} / {s_items}"
                )
    conn.rollback()
    meta = {
        "latest_day": str(day),
        "dashboard_revenue": float(revenue),
        "sales_revenue": float(want_revenue),
        "dashboard_items_sold": int(items),
        "sales_items_sold": int(want_items),
        "days_checked": checked_days,
    }
    if not problems:
        return Outcome(True, f"metrics for {day} reconcile with sales", meta)
    return Outcome(False, "; ".join(problems), meta)
