"""The app's reads from the warehouse: small pre-aggregated tables only, as the read-only role.

Pure (psycopg2 and pandas, no Streamlit). Every page load runs a handful of tiny SELECTs over
the `analytics` tables and `public.products`, each built from the tables' declarations
(`profiteer_pipeline.warehouse.metrics.select_sql`), so a column added there reaches the app; the
app never scans `public.sales`. Failures become two clear exceptions the pages turn into banners:
`WarehouseUnavailable` (cannot connect or query) and `MetricsMissing` (the tables are not there
yet: nothing has been materialized).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2 import sql as pgsql

from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.warehouse import metrics
from profiteer_pipeline.warehouse.products import PRODUCTS_COLUMNS

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 5000
TREND_DAYS = 7  # days of category revenue behind each trend sparkline

# --- the queries: each reads one small table, its columns those the table declares, built when
# called (so a column added to a declaration reaches every page) --------------------------------

Query = tuple[pgsql.Composable, Mapping[str, object] | None]

# the last TREND_DAYS days of category revenue
_TREND = "day > (SELECT max(day) FROM {category_revenue}) - %(trend_days)s"
# the latest day's hours and the day before's (at most 48 rows of the hourly base aggregate)
_RECENT = "hour >= ((SELECT max(day) FROM {daily_product_sales}) - 1)::timestamp AT TIME ZONE 'UTC'"


def freshness_query(schema: str = metrics.SCHEMA) -> Query:
    cols = ["refreshed_at", "mode", "latest_hour", "sales_rows", "duration_ms"]
    log = metrics.TABLES["refresh_log"].in_schema(schema)
    return log.select(cols, order=["id DESC"], limit=1), None


def dashboard_queries(schema: str = metrics.SCHEMA) -> dict[str, Query]:
    """The dashboard's reads of a source's metric tables (the simulated shop's `analytics`, or
    an import's schema: the same tables)."""
    t = {name: table.in_schema(schema) for name, table in metrics.TABLES.items()}
    idents = {name: table.identifier for name, table in t.items()}
    return {
        "summary": (t["dashboard_summary"].select(order=["day"]), None),
        "hourly": (t["hourly_totals"].select(order=["hour"]), None),
        "categories": (
            t["category_revenue"].select(
                where=pgsql.SQL(_TREND).format(**idents), order=["day", "category"]
            ),
            {"trend_days": TREND_DAYS},
        ),
        "hot": (t["hot_products"].select(order=["rank"]), None),
        "recent": (
            t["hourly_sales"].select(where=pgsql.SQL(_RECENT).format(**idents), order=["hour"]),
            None,
        ),
        "log": freshness_query(schema),
    }


def with_stats_query(
    products: tuple[str, str],
    columns: list[str],
    stats: dict[str, str],
    schema: str = metrics.SCHEMA,
    order: str = "p.category, p.product_id",
) -> Query:
    """Every product of `products` (schema, table; its `columns`) with its sales stats from the
    metric table `product_stats` in `schema` (`stats`: column -> the name it is read as); NULL
    stats for a product never sold."""
    table = metrics.TABLES["product_stats"].in_schema(schema)
    table.check_columns(list(stats))
    query = pgsql.SQL(
        "SELECT {p_cols}, {s_cols} FROM {products} p"
        " LEFT JOIN {stats} s ON s.product_id = p.product_id ORDER BY {order}"
    ).format(
        order=pgsql.SQL(order),  # the code's own ordering, never a user's
        p_cols=pgsql.SQL(", ").join(pgsql.Identifier("p", c) for c in columns),
        s_cols=pgsql.SQL(", ").join(
            pgsql.SQL("{} AS {}").format(pgsql.Identifier("s", c), pgsql.Identifier(name))
            for c, name in stats.items()
        ),
        products=pgsql.Identifier(*products),
        stats=table.identifier,
    )
    return query, None


def products_query() -> Query:
    """Every product of the dimension with its sales stats: the columns of `public.products`,
    then those of `analytics.product_stats` that the dimension does not have."""
    extra = [c for c in metrics.TABLES["product_stats"].column_names if c not in PRODUCTS_COLUMNS]
    return with_stats_query(("public", "products"), PRODUCTS_COLUMNS, {c: c for c in extra})


def buckets_query(product_id: str) -> Query:
    where = pgsql.SQL("product_id = %(product_id)s")
    query = metrics.select_sql("avg_purchases_by_bucket", where=where, order=["time_of_day_bucket"])
    return query, {"product_id": product_id}


# --- errors ------------------------------------------------------------------------------------


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or queried (the message names the redacted URL)."""


class MetricsMissing(RuntimeError):
    """A table the app reads does not exist yet: the pipeline has not materialized it."""


class AccessDenied(WarehouseUnavailable):
    """The read-only login may not read a table (e.g. an import made without the app's grants)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- the reader --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warehouse:
    """The warehouse as the app sees it: a read-only login, short timeouts."""

    url: PgUrl

    def describe(self) -> str:
        return self.url.redacted()

    def fetch(self, queries: Mapping[str, Query]) -> dict:
        """Run several small SELECTs on one read-only connection: name -> DataFrame."""
        try:
            conn = psycopg2.connect(
                self.url.dsn(),
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="profiteer-app",
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
                " -c default_transaction_read_only=on",
            )
        except psycopg2.Error as exc:
            raise WarehouseUnavailable(
                f"cannot connect to the warehouse at {self.describe()}: {_first_line(exc)}"
            ) from None
        out: dict[str, pd.DataFrame] = {}
        try:
            with conn.cursor() as cur:
                for name, (query, params) in queries.items():
                    cur.execute(query, params)
                    columns = [c.name for c in cur.description]
                    out[name] = pd.DataFrame(cur.fetchall(), columns=columns)
        except pg_errors.UndefinedTable as exc:
            raise MetricsMissing(
                f"{_first_line(exc)}: the metrics have not been materialized yet"
            ) from None
        except pg_errors.UndefinedColumn as exc:  # a table an older version wrote
            raise MetricsMissing(
                f"{_first_line(exc)}: written by an older version, until its next run"
            ) from None
        except pg_errors.InsufficientPrivilege as exc:
            raise AccessDenied(
                f"the app's login may not read this at {self.describe()}: {_first_line(exc)}"
            ) from None
        except psycopg2.Error as exc:
            raise WarehouseUnavailable(
                f"query failed on the warehouse at {self.describe()}: {_first_line(exc)}"
            ) from None
        finally:
            conn.close()
        return out


# --- what each page reads ---------------------------------------------------------------------


@dataclass
class Freshness:
    refreshed_at: datetime | None = None
    latest_hour: datetime | None = None
    mode: str | None = None
    sales_rows: int | None = None


@dataclass
class DashboardData:
    summary: pd.DataFrame
    hourly: pd.DataFrame
    categories: pd.DataFrame
    hot: pd.DataFrame
    recent: pd.DataFrame = field(default_factory=pd.DataFrame)  # hourly_sales, 2 latest days
    freshness: Freshness = field(default_factory=Freshness)

    @property
    def latest(self) -> pd.Series | None:
        rows = self.summary[self.summary["is_latest"]]
        return None if rows.empty else rows.iloc[-1]

    @property
    def previous(self) -> pd.Series | None:
        rows = self.summary[~self.summary["is_latest"]]
        return None if rows.empty else rows.iloc[-1]


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    """Decimal/object numbers from psycopg2 as floats, so charts and maths just work."""
    for col in df.columns:
        if df[col].dtype != object:
            continue
        values = df[col].dropna()
        if len(values) and all(isinstance(v, (int, float, Decimal)) for v in values):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def freshness_of(df: pd.DataFrame) -> Freshness:
    if df.empty:
        return Freshness()
    row = df.iloc[0]
    return Freshness(
        refreshed_at=row["refreshed_at"],
        latest_hour=row["latest_hour"],
        mode=row["mode"],
        sales_rows=int(row["sales_rows"]),
    )


def load_freshness(wh: Warehouse) -> Freshness:
    return freshness_of(wh.fetch({"log": freshness_query()})["log"])


def load_dashboard(wh: Warehouse, schema: str = metrics.SCHEMA) -> DashboardData:
    frames = wh.fetch(dashboard_queries(schema))
    return DashboardData(
        summary=_numeric(frames["summary"]),
        hourly=_numeric(frames["hourly"]),
        categories=_numeric(frames["categories"]),
        hot=_numeric(frames["hot"]),
        recent=_numeric(frames["recent"]),
        freshness=freshness_of(frames["log"]),
    )


def load_products(wh: Warehouse) -> pd.DataFrame:
    """Every product of the dimension, with its sales stats (NULL for a product never sold)."""
    return _numeric(wh.fetch({"products": products_query()})["products"])


def load_buckets(wh: Warehouse, product_id: str) -> pd.DataFrame:
    """The product's per-hour averages by time-of-day bucket (the prediction inputs)."""
    frame = wh.fetch({"b": buckets_query(product_id)})["b"]
    return _numeric(frame)


@dataclass
class LikeForLike:
    """The latest day's hours so far against the same hours of the day before."""

    hours: list[int]  # hours of day (UTC) present on the latest day
    today: dict[str, float]
    before: dict[str, float]

    def change_pct(self, key: str) -> float | None:
        old, new = self.before.get(key), self.today.get(key)
        return None if not old or new is None else (new - old) / old * 100.0


def like_for_like(recent: pd.DataFrame, latest_day) -> LikeForLike:
    """Sums of revenue, purchases, views and cart adds, and the conversion rate, over the hours
    the latest day has so far, and over the same hours of the day before."""
    if recent.empty:
        return LikeForLike([], {}, {})
    stamp = pd.to_datetime(recent["hour"], utc=True)
    df = recent.assign(day=stamp.dt.date, hour_of_day=stamp.dt.hour)
    today = df[df["day"] == latest_day]
    hours = sorted(int(h) for h in today["hour_of_day"])
    before = df[(df["day"] == latest_day - timedelta(days=1)) & df["hour_of_day"].isin(hours)]

    def sums(part: pd.DataFrame) -> dict[str, float]:
        if part.empty:
            return {}
        views = float(part["views"].sum())
        return {
            "revenue": float(part["revenue_cents"].sum()) / 100.0,
            "items_sold": float(part["purchases"].sum()),
            "views": views,
            "conversion_rate": float(part["purchases"].sum()) / views * 100 if views else None,
        }

    return LikeForLike(hours, sums(today), sums(before))


def top_categories(categories: pd.DataFrame, day=None) -> pd.DataFrame:
    """`day`'s (default: the latest) categories by revenue, each with its change and its recent
    revenues up to that day."""
    if categories.empty:
        return categories.assign(trend=[])
    latest = categories["day"].max() if day is None else day
    categories = categories[categories["day"] <= latest]
    today = categories[categories["day"] == latest].sort_values(
        ["revenue", "category"], ascending=[False, True]
    )
    history = (
        categories.sort_values("day").groupby("category")["revenue"].apply(list).rename("trend")
    )
    return today.join(history, on="category").reset_index(drop=True)
