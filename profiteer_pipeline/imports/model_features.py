"""What the import's model learns from: one row per modelled product-hour, built from the
import's `sales` (dense product-hours) and `products`.

Pure pandas/numpy (no Dagster): the asset, the tests and the benchmark share it.

Real exports have none of the simulated shop's features (popularity, rating, views, cart adds),
so the model sees what every export has:
- `price_ratio`: the price offered that hour over the product's base price (the median paid).
  The price offered is only observed when something sold (`avg_price`); at a zero-sale hour the
  product still had a price, so the last price paid is carried forward within the product, and
  before its first sale the base price stands in. (A price change is therefore seen from its
  first sale onwards; the zero hours before that still carry the old price.)
- `hour_of_day`, `day_of_week` (UTC, as the import stores its hours);
- `product_id` and `category` (a placeholder where the export has none): the product's own level,
  and what products of one category share;
- recent demand: units in the 24 hours and the 7 days *before* the hour (the hour itself never
  counts, so the target does not leak into its inputs).

Which rows: only products with enough evidence for a price curve (at least `MIN_SALE_HOURS`
hours with a sale, at least `MIN_PRICE_POINTS` distinct prices paid, spread by at least
`MIN_PRICE_SPREAD`), each from its first to its last sale hour (before it existed it sold
nothing for a reason the model cannot see). Big imports are bounded: the products with the most
revenue first, at most `MAX_PRODUCTS`, over the latest hours that keep the rows within
`ROW_BUDGET` (at least `MIN_WINDOW_DAYS` days; fewer products when the budget cannot give each
that many). Sparse products are not pooled into training: their few hours would teach the model
mostly zeros. They get no curve, and the advice says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The model's inputs, in the order it is trained on them.
FEATURES = (
    "product_id",
    "category",
    "price_ratio",
    "hour_of_day",
    "day_of_week",
    "units_prev_24h",
    "units_prev_7d",
)
TARGET = "units"
TS_COLUMN = "timestamp"
KEY = ("product_id", TS_COLUMN)  # one row per product-hour
#: `model_features`, the one declaration of its columns: the keys, the price offered (for
#: people), the features, then the target.
COLUMN_DDL = {
    "product_id": "text NOT NULL",
    TS_COLUMN: "timestamptz NOT NULL",
    "price": "numeric(18, 4) NOT NULL",
    "category": "text NOT NULL",
    "price_ratio": "double precision NOT NULL",
    "hour_of_day": "integer NOT NULL",
    "day_of_week": "integer NOT NULL",
    "units_prev_24h": "double precision NOT NULL",
    "units_prev_7d": "double precision NOT NULL",
    TARGET: "double precision NOT NULL",
}
COLUMNS = tuple(COLUMN_DDL)

NO_CATEGORY = "(no category)"
LAGS = {"units_prev_24h": 24, "units_prev_7d": 168}  # feature -> hours before the current one

MIN_SALE_HOURS = 24
MIN_PRICE_POINTS = 2
#: The prices paid must span at least this ratio (top over bottom, 2nd-98th percentile of the
#: hourly average prices), or a curve would only extrapolate.
MIN_PRICE_SPREAD = 1.02
PRICE_QUANTILES = (0.02, 0.98)
ROW_BUDGET = 50_000
MAX_PRODUCTS = 50
MIN_WINDOW_DAYS = 14

EVIDENCE_COLUMNS = (
    "product_id",
    "sale_hours",
    "price_points",
    "price_low",
    "price_high",
    "revenue",
    "eligible",
    "note",
)


def evidence(sold: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Per product: how much it tells about its price response, and whether that is enough.

    `sold`: the sale hours (`units` > 0) with product_id, units, revenue and avg_price;
    `products`: the import's products. Every product gets a row; `note` says, for a product
    that is not eligible, why (one sentence a person reads in the app).
    """
    ids = products["product_id"].astype(str)
    sold = sold[pd.to_numeric(sold["units"], errors="coerce") > 0]
    price = pd.to_numeric(sold["avg_price"], errors="coerce")
    key = sold["product_id"].astype(str)
    grouped = pd.DataFrame({"product_id": key, "price": price, "cents": price.round(2)}).groupby(
        "product_id"
    )
    lo_q, hi_q = PRICE_QUANTILES
    stats = pd.DataFrame(
        {
            "sale_hours": grouped.size(),
            "price_points": grouped["cents"].nunique(),
            "price_low": grouped["price"].quantile(lo_q),
            "price_high": grouped["price"].quantile(hi_q),
        }
    ).reindex(ids)
    stats["sale_hours"] = stats["sale_hours"].fillna(0).astype(int)
    stats["price_points"] = stats["price_points"].fillna(0).astype(int)
    stats["revenue"] = pd.to_numeric(products["revenue"], errors="coerce").to_numpy()
    spread = stats["price_high"] / stats["price_low"]
    few_hours = stats["sale_hours"] < MIN_SALE_HOURS
    one_price = stats["price_points"] < MIN_PRICE_POINTS
    narrow = ~(spread >= MIN_PRICE_SPREAD)
    stats["eligible"] = ~(few_hours | one_price | narrow)
    notes = np.where(
        few_hours,
        "Too little data for a price curve: sold in "
        + stats["sale_hours"].astype(str)
        + f" hours (needs at least {MIN_SALE_HOURS}).",
        np.where(
            one_price,
            "Too little data for a price curve: always sold at one price, so the data cannot "
            "show how demand responds to price.",
            np.where(
                narrow,
                "Too little data for a price curve: the prices paid vary by less than "
                f"{MIN_PRICE_SPREAD - 1:.0%}.",
                "",
            ),
        ),
    )
    stats["note"] = notes
    return stats.rename_axis("product_id").reset_index()[list(EVIDENCE_COLUMNS)]


@dataclass(frozen=True)
class Selection:
    """The products and hours the model is trained on, and why (for metadata and notes)."""

    products: tuple[str, ...]
    since: pd.Timestamp  # the first modelled hour (lags reach 7 days before it)
    until: pd.Timestamp  # the last hour of the import
    skipped: tuple[str, ...]  # eligible, but left out by the budget
    reason: str

    @property
    def hours(self) -> int:
        return int((self.until - self.since) / pd.Timedelta(hours=1)) + 1


def select(
    ev: pd.DataFrame,
    first_hour: pd.Timestamp,
    last_hour: pd.Timestamp,
    *,
    row_budget: int = ROW_BUDGET,
    max_products: int = MAX_PRODUCTS,
    min_window_days: int = MIN_WINDOW_DAYS,
) -> Selection:
    """The eligible products by revenue (most first), at most `max_products` and at most as many
    as the budget gives `min_window_days` each; then the latest hours within the budget."""
    eligible = ev[ev["eligible"]].sort_values(["revenue", "product_id"], ascending=[False, True])
    span = int((last_hour - first_hour) / pd.Timedelta(hours=1)) + 1
    min_hours = min(span, min_window_days * 24)
    cap = max(1, min(max_products, row_budget // max(min_hours, 1)))
    chosen = tuple(eligible["product_id"].head(cap))
    skipped = tuple(eligible["product_id"].iloc[cap:])
    hours = span if not chosen else min(span, max(min_hours, row_budget // len(chosen)))
    since = last_hour - pd.Timedelta(hours=hours - 1)
    parts = [f"{len(chosen)} of {len(eligible)} products with enough data"]
    if skipped:
        parts.append(f"the {cap} with the most revenue (at most {max_products})")
    if hours < span:
        parts.append(f"the latest {hours / 24:.0f} of {span / 24:.0f} days")
    parts.append(f"row budget {row_budget:,}")
    return Selection(chosen, since, last_hour, skipped, "; ".join(parts))


def build(
    sales: pd.DataFrame,
    products: pd.DataFrame,
    *,
    since: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The `model_features` rows (COLUMNS) of the products in `sales`, from `since` on.

    `sales` holds product-hours (product_id, timestamp, units, avg_price); hours it lacks count
    as zero sales. It should reach 7 days before `since`, or the lags start short. Each
    product's rows run from its first to its last sale hour (`products.first_hour/last_hour`).
    """
    if sales.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    ts = pd.to_datetime(sales[TS_COLUMN], utc=True)
    frame = pd.DataFrame(
        {
            "product_id": sales["product_id"].astype(str),
            TS_COLUMN: ts,
            "units": pd.to_numeric(sales["units"], errors="coerce").fillna(0.0).astype(float),
            "avg_price": pd.to_numeric(sales["avg_price"], errors="coerce").astype(float),
        }
    )
    hours = pd.date_range(ts.min(), ts.max(), freq="h")
    units = frame.pivot(index=TS_COLUMN, columns="product_id", values="units")
    units = units.reindex(hours).fillna(0.0)
    paid = frame.pivot(index=TS_COLUMN, columns="product_id", values="avg_price")
    paid = paid.reindex(index=hours, columns=units.columns).where(units > 0)
    info = products.assign(product_id=products["product_id"].astype(str)).set_index("product_id")
    info = info.reindex(units.columns)
    base = pd.to_numeric(info["base_price"], errors="coerce").astype(float)
    offered = paid.ffill().fillna(base)  # the last price paid, else the base price
    before = units.cumsum() - units  # units strictly before each hour
    lags = {
        name: before - before.shift(n).fillna(0.0) for name, n in LAGS.items()
    }  # the n hours before, never the current one

    def long(wide: pd.DataFrame) -> np.ndarray:
        return wide.to_numpy().ravel(order="F")  # product-major, hours within

    n_hours, n_products = units.shape
    product = np.repeat(units.columns.to_numpy(), n_hours)
    stamp = np.tile(hours.asi8, n_products)  # ns since the epoch, UTC
    price = long(offered)
    category = info["category"].astype(object).where(info["category"].notna(), NO_CATEGORY)
    out = pd.DataFrame(
        {
            "product_id": product,
            TS_COLUMN: pd.to_datetime(stamp, utc=True),
            "price": np.round(price, 4),
            "category": np.repeat(category.to_numpy(), n_hours),
            "price_ratio": price / np.repeat(base.to_numpy(), n_hours),
            "hour_of_day": np.tile(hours.hour.to_numpy(), n_products).astype("int32"),
            "day_of_week": np.tile(hours.dayofweek.to_numpy(), n_products).astype("int32"),
            **{name: long(wide) for name, wide in lags.items()},
            TARGET: long(units),
        }
    )
    first = pd.DatetimeIndex(pd.to_datetime(info["first_hour"], utc=True)).asi8
    last = pd.DatetimeIndex(pd.to_datetime(info["last_hour"], utc=True)).asi8
    keep = (stamp >= np.repeat(first, n_hours)) & (stamp <= np.repeat(last, n_hours))
    if since is not None:
        keep &= stamp >= pd.Timestamp(since).value
    return out.loc[keep, list(COLUMNS)].reset_index(drop=True)
