"""The hourly grain: one row per product and hour over the import's span, zero where nothing sold,
and its daily roll-up (what the app's dashboard reads, pre-aggregated).

A product-hour holds units, revenue, orders (distinct order ids, or lines when the file has no
order ids), the lines behind it, the average price paid (revenue / units; NULL at zero units),
the returns apart (never counted as sales), and the funnel counts where the file has them.
Sums are exact: they add the integer amounts `clean` keeps. Everything is computed with numpy's
bincount over (product, hour) cells, so the cost grows with lines plus cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiteer_pipeline.sources.files.clean import MONEY_SCALE, QTY_SCALE, Cleaned

SALES_COLUMNS = (
    "product_id",
    "timestamp",
    "units",
    "revenue",
    "orders",
    "lines",
    "avg_price",
    "returned_units",
    "returned_revenue",
    "views",
    "cart_adds",
)
PRODUCT_COLUMNS = (
    "product_id",
    "product_name",
    "category",
    "base_price",
    "min_price",
    "max_price",
    "units",
    "revenue",
    "lines",
    "first_hour",
    "last_hour",
)
DAILY_COLUMNS = ("product_id", "day", "units", "revenue", "orders", "returned_units")
#: Above this many product-hours a grid is too big: about 150 bytes a cell in memory, so 25M
#: cells is near 4 GB (a year of 3,000 products is 26M product-hours).
MAX_CELLS = 25_000_000


def _mode(values: pd.Series, keys: pd.Series) -> pd.Series:
    """The most frequent non-missing value per key (ties: the first in sort order)."""
    frame = pd.DataFrame({"k": keys, "v": values}).dropna()
    if frame.empty:
        return pd.Series(dtype=object)
    counts = frame.groupby(["k", "v"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values(["k", "n"], ascending=[True, False], kind="stable")
    return counts.drop_duplicates("k").set_index("k")["v"]


def hour_grid(hours: pd.Series, sale: np.ndarray, n_products: int, max_cells: int) -> np.ndarray:
    """The hours every product gets a row for (UTC, ns): every hour from the first sale to the last
    when that fits `max_cells`; else only the shop's trading hours (those with any order line:
    a year of UCI Online Retail, about 4,000 products, is 36M product-hours over every hour),
    where a zero still means "open, and this product did not sell"."""
    first, last = hours[sale].min(), hours[sale].max()
    n_hours = int((last - first) / pd.Timedelta(hours=1)) + 1
    if n_products * n_hours <= max_cells:
        return pd.date_range(first, periods=n_hours, freq="h").asi8
    stamps = hours.to_numpy(dtype="datetime64[ns]").astype("int64")
    traded = np.unique(stamps[(stamps >= first.value) & (stamps <= last.value)])
    if n_products * len(traded) > max_cells:
        raise ValueError(
            f"{n_products:,} products over {len(traded):,} trading hours make "
            f"{n_products * len(traded):,} product-hours, more than the {max_cells:,} this import "
            "keeps; import a shorter period or fewer products"
        )
    return traded


def hourly_sales(cleaned: Cleaned, max_cells: int = MAX_CELLS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sales: SALES_COLUMNS, products: PRODUCT_COLUMNS) from the accepted lines."""
    lines = cleaned.lines
    sale = (lines["kind"] == "sale").to_numpy()
    products = np.sort(lines.loc[sale, "product_id"].unique())
    # returns of products never sold here have no price to learn from: counted, not gridded
    hours = lines["hour"]
    n_products = len(products)
    grid = hour_grid(hours, sale, n_products, max_cells)
    n_hours = len(grid)
    cells = n_products * n_hours
    p = np.searchsorted(products, lines["product_id"].to_numpy())
    known = (p < n_products) & (products[np.minimum(p, n_products - 1)] == lines["product_id"])
    stamps = hours.to_numpy(dtype="datetime64[ns]").astype("int64")
    h = np.minimum(np.searchsorted(grid, stamps), n_hours - 1)
    inside = known.to_numpy() & (grid[h] == stamps)
    cell = p * n_hours + h

    def total(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        m = mask & inside
        w = None if weights is None else weights[m].astype("float64")
        return np.bincount(cell[m], weights=w, minlength=cells)

    qty, rev = cleaned.quantity_milli, cleaned.revenue_e4
    units_m = np.rint(total(sale, qty)).astype("int64")  # exact: integers far below 2**53
    revenue_m = np.rint(total(sale, rev)).astype("int64")
    line_count = total(sale).astype("int64")
    if lines["order_id"].notna().any():
        pairs = pd.DataFrame({"c": cell, "o": lines["order_id"].fillna("")})[sale & inside]
        orders = np.bincount(pairs.drop_duplicates()["c"].to_numpy(), minlength=cells).astype(
            "int64"
        )
    else:
        orders = line_count
    ret = ~sale
    returned_m = np.rint(total(ret, -qty)).astype("int64")
    returned_rev = np.rint(total(ret, -rev)).astype("int64")

    units = units_m / QTY_SCALE
    revenue = revenue_m / MONEY_SCALE
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(units_m > 0, np.round(revenue / units, 4), np.nan)
    sales = pd.DataFrame(
        {
            "product_id": np.repeat(products, n_hours),
            "timestamp": np.tile(pd.to_datetime(grid, utc=True), n_products),
            "units": units,
            "revenue": revenue,
            "orders": orders,
            "lines": line_count,
            "avg_price": avg,
            "returned_units": returned_m / QTY_SCALE,
            "returned_revenue": returned_rev / MONEY_SCALE,
        }
    )
    for name in ("views", "cart_adds"):
        values = lines[name].to_numpy(dtype="float64")
        has = ~np.isnan(values)
        sales[name] = (
            np.bincount(cell[has & inside], weights=values[has & inside], minlength=cells)
            if has.any()
            else np.nan
        )

    sold = lines[sale]
    per = sold.groupby("product_id", sort=True)
    stats = pd.DataFrame(
        {
            "base_price": per["unit_price"].median(),
            "min_price": per["unit_price"].min(),
            "max_price": per["unit_price"].max(),
            "first_hour": per["hour"].min(),
            "last_hour": per["hour"].max(),
        }
    )
    by_product = units_m.reshape(n_products, n_hours)
    stats["units"] = by_product.sum(axis=1) / QTY_SCALE
    stats["revenue"] = revenue_m.reshape(n_products, n_hours).sum(axis=1) / MONEY_SCALE
    stats["lines"] = line_count.reshape(n_products, n_hours).sum(axis=1)
    stats["base_price"] = stats["base_price"].round(4)
    stats["product_name"] = _mode(lines["product_name"], lines["product_id"])
    stats["category"] = _mode(lines["category"], lines["product_id"])
    products_frame = stats.reset_index(names="product_id")[list(PRODUCT_COLUMNS)]
    return sales[list(SALES_COLUMNS)], products_frame


def daily_sales(sales: pd.DataFrame) -> pd.DataFrame:
    """DAILY_COLUMNS from the hourly grain: one row per product and day (UTC), zero days included.
    Orders add up per hour (an order spanning two hours counts in each)."""
    day = sales["timestamp"].dt.tz_convert("UTC").dt.date  # the grain's hours are UTC
    totals = ["units", "revenue", "orders", "returned_units"]
    frame = sales[["product_id", *totals]].assign(day=day)
    daily = frame.groupby(["product_id", "day"], sort=True)[totals].sum().reset_index()
    daily[["units", "returned_units"]] = daily[["units", "returned_units"]].round(3)
    daily["revenue"] = daily["revenue"].round(4)
    return daily[list(DAILY_COLUMNS)]
