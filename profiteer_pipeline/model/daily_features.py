"""What the import's model learns from: one row per modelled product-day, built from the daily
panel of its order lines (`model.elasticity.daily_panel`: units and the price offered per day)
and its `products`.

Pure pandas/numpy (no Dagster): the asset, the tests and the benchmark share it.

Why product-day: a gift shop's products sell nothing in most hours, and in most days too; an
hourly model of them mostly learns zeros, and its rows grow 24 times as fast as the history.
At product-day the whole history of every product fits the budget.

Real exports have none of the simulated shop's features (popularity, rating, views, cart adds),
so the model sees what every export has:
- `price_ratio`: the price offered that day over the product's base price (the median paid).
  The price offered is the median unit price of the day's small lines, so quantity tiers do
  not pass for a price change; a day without one takes the nearer observed day's
  (`elasticity.offered_prices`, the same rule the elasticities use).
- `day_of_week` (UTC, as the import stores its hours);
- `product_id` and `category` (a placeholder where the export has none): the product's own level,
  and what products of one category share;
- recent demand: units in the 7, 28 and 91 days *before* the day (the day itself never counts,
  so the target does not leak into its inputs).

Which rows: only products with enough evidence for a price curve (at least `MIN_SALE_HOURS`
hours with a sale, at least `MIN_PRICE_POINTS` distinct prices paid, spread by at least
`MIN_PRICE_SPREAD`), each from its first sale day to the import's last day (before it existed
it sold nothing for a reason the model cannot see; after its last sale, its zero days are
demand). Every such product is modelled, over the whole history that keeps the rows within
`ROW_BUDGET` (the latest days otherwise, at least `MIN_WINDOW_DAYS`; the products with the most
revenue first only where the budget cannot give each that many). Sparse products are not pooled
into training: their few sales would teach the model mostly zeros. They get no curve, and the
advice says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiteer_pipeline.warehouse.source_tables import declared

#: The model's inputs, in the order it is trained on them.
FEATURES = (
    "product_id",
    "category",
    "price_ratio",
    "day_of_week",
    "units_prev_7d",
    "units_prev_28d",
    "units_prev_91d",
)
TARGET = "units"
TS_COLUMN = "day"
KEY = ("product_id", TS_COLUMN)  # one row per product-day
#: the model's categories (its demand never rises with `engine.DECREASING`, the price ratio)
CATEGORICAL = ("product_id", "category")
LAGS = {"units_prev_7d": 7, "units_prev_28d": 28, "units_prev_91d": 91}  # days before the day
#: `model_features`, the one declaration of its columns: the keys, the price offered (for
#: people), the features, then the target.
COLUMN_DDL = {
    "product_id": "text NOT NULL",
    TS_COLUMN: "timestamptz NOT NULL",
    "price": "numeric(18, 4) NOT NULL",
    "category": "text NOT NULL",
    "price_ratio": "double precision NOT NULL",
    "day_of_week": "integer NOT NULL",
    **{lag: "double precision NOT NULL" for lag in LAGS},
    TARGET: "double precision NOT NULL",
}
COLUMNS = tuple(COLUMN_DDL)
MODEL_FEATURES = declared(
    "model_features",
    COLUMN_DDL,
    KEY,
    "The model's training rows, one per product-day (MindsDB's login reads only this table).",
)

NO_CATEGORY = "(no category)"

MIN_SALE_HOURS = 24
MIN_PRICE_POINTS = 2
#: The prices paid must span at least this ratio (top over bottom, 2nd-98th percentile of the
#: hourly average prices), or a curve would only extrapolate.
MIN_PRICE_SPREAD = 1.02
PRICE_QUANTILES = (0.02, 0.98)
#: product-days: a real year of about 4,000 qualifying products fits whole
ROW_BUDGET = 1_500_000
MIN_WINDOW_DAYS = 28

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
    """The products and days the model is trained on, and why (for metadata and notes)."""

    products: tuple[str, ...]
    since: pd.Timestamp  # the first modelled day (lags reach 91 days before it)
    until: pd.Timestamp  # the import's last day
    skipped: tuple[str, ...]  # eligible, but left out by the budget
    reason: str

    @property
    def days(self) -> int:
        return int((self.until - self.since) / pd.Timedelta(days=1)) + 1


def select(
    ev: pd.DataFrame,
    first_day: pd.Timestamp,
    last_day: pd.Timestamp,
    *,
    row_budget: int = ROW_BUDGET,
    min_window_days: int = MIN_WINDOW_DAYS,
) -> Selection:
    """Every eligible product (by revenue, most first, only where the budget cannot give each
    `min_window_days`), over the latest days within the budget: the whole history if it fits."""
    first_day, last_day = first_day.normalize(), last_day.normalize()
    eligible = ev[ev["eligible"]].sort_values(["revenue", "product_id"], ascending=[False, True])
    span = int((last_day - first_day) / pd.Timedelta(days=1)) + 1
    min_days = min(span, min_window_days)
    cap = max(1, row_budget // max(min_days, 1))
    chosen = tuple(eligible["product_id"].head(cap))
    skipped = tuple(eligible["product_id"].iloc[cap:])
    days = span if not chosen else min(span, max(min_days, row_budget // len(chosen)))
    since = last_day - pd.Timedelta(days=days - 1)
    parts = [f"{len(chosen)} of {len(eligible)} products with enough data, at product-day"]
    if skipped:
        parts.append(f"the {cap} with the most revenue")
    parts.append(f"the latest {days} of {span} days" if days < span else f"the whole {span} days")
    parts.append(f"row budget {row_budget:,} product-days")
    return Selection(chosen, since, last_day, skipped, "; ".join(parts))


def build(
    panel: pd.DataFrame, products: pd.DataFrame, *, since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """The `model_features` rows (COLUMNS) of the products in `panel`, from `since` on.

    `panel`: one row per product-day, every day of a product's span (`elasticity.daily_panel`:
    product_id, day, units, offered_price); the lags count the panel's days before each one.
    """
    if panel.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    frame = panel.assign(product_id=panel["product_id"].astype(str)).sort_values(
        ["product_id", "day"], kind="stable"
    )
    day = pd.to_datetime(frame["day"], utc=True)
    units = pd.to_numeric(frame["units"], errors="coerce").fillna(0.0).astype(float)
    info = products.assign(product_id=products["product_id"].astype(str)).set_index("product_id")
    info = info.reindex(frame["product_id"])
    base = pd.to_numeric(info["base_price"], errors="coerce").to_numpy(dtype=float)
    price = frame["offered_price"].to_numpy(dtype=float)
    category = info["category"].astype(object).where(info["category"].notna(), NO_CATEGORY)
    out = pd.DataFrame(
        {
            "product_id": frame["product_id"].to_numpy(),
            TS_COLUMN: day.array,  # keeps UTC (to_numpy would drop it)
            "price": np.round(price, 4),
            "category": category.to_numpy(),
            "price_ratio": price / base,
            "day_of_week": day.dt.dayofweek.to_numpy().astype("int32"),
            **lagged(frame["product_id"].to_numpy(), units.to_numpy()),
            TARGET: units.to_numpy(),
        }
    )
    if since is not None:
        out = out[out[TS_COLUMN] >= pd.Timestamp(since)]
    return out[list(COLUMNS)].reset_index(drop=True)


def lagged(product: np.ndarray, units: np.ndarray) -> dict[str, np.ndarray]:
    """Each LAGS column: units in the n rows before each row of the same product (rows sorted by
    product, one per consecutive day), never the row itself."""
    before = np.cumsum(units) - units  # units strictly before, over the whole array
    start = np.r_[True, product[1:] != product[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(units)), 0))
    index = np.arange(len(units))  # a window never reaches back past its product's first row
    out = {}
    for name, n in LAGS.items():
        back = np.maximum(index - n, first)
        out[name] = before - before[back]
    return out


def demand_before(rows: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """Per product (index) with rows before `origin`: its category, price ratio on its last day
    before `origin`, and each LAGS column as known at `origin` (units in the n days before it)."""
    ts = rows[TS_COLUMN]
    before = rows[ts < origin]
    last = before.sort_values(TS_COLUMN).groupby("product_id").tail(1).set_index("product_id")
    state = last[["category", "price_ratio"]].copy()
    for name, n in LAGS.items():
        recent = before[before[TS_COLUMN] >= origin - pd.Timedelta(days=n)]
        state[name] = recent.groupby("product_id")[TARGET].sum().reindex(state.index).fillna(0.0)
    return state
