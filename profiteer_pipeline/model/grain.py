"""How densely a source's products sell, and so which grain its demand supports: product-hour
where they sell in most of their hours, product-day otherwise.

Why it matters: a gift shop's products sell nothing in most hours; an hourly model of them mostly
learns zeros, and its baselines are mostly zero too. Every source's model states the density it
was trained on (in its metadata and in its evaluation's `selection`, which the Recommendations
page shows), so a person sees why it forecasts at its grain.

A product's hours run from its first sale to the source's last hour (before its first sale it
did not exist for a reason the model cannot see; after its last sale, its empty hours are
demand), the rule the import's model picks its days by (`daily_features`).

Pure pandas (no Dagster, no database): the assets, the import's run and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from profiteer_pipeline.model.figures import DAILY, HOURLY

#: An hourly model fits where products sell in at least this share of their hours.
MIN_HOURLY_SHARE = 0.5
HOUR = HOURLY.grain  # "product-hour"
DAY = DAILY.grain  # "product-day"


@dataclass(frozen=True)
class Density:
    """Sold and elapsed product-hours and product-days, over every product's own span."""

    products: int
    product_hours: int
    sale_hours: int
    product_days: int
    sale_days: int

    @property
    def hour_share(self) -> float:
        return self.sale_hours / self.product_hours if self.product_hours else 0.0

    @property
    def day_share(self) -> float:
        return self.sale_days / self.product_days if self.product_days else 0.0

    @property
    def supported(self) -> str:
        """The finest grain the data support: `HOUR` where products sell in most hours."""
        return HOUR if self.hour_share >= MIN_HOURLY_SHARE else DAY

    def phrase(self, modelled: str) -> str:
        """'the shop's 448 products sell in 2 % of their hours and 18 % of their days: too sparse
        for an hourly model, ...': how the grain a model was `modelled` at compares with what the data
        support."""
        sold = (
            f"the shop's {self.products:,} products sell in {_pct(self.hour_share)} of their "
            f"hours and {_pct(self.day_share)} of their days"
        )
        need = _pct(MIN_HOURLY_SHARE)
        if modelled == self.supported == DAY:
            why = f"too sparse for an hourly model, which needs {need}"
        elif modelled == self.supported:
            why = f"dense enough for an hourly model (at least {need})"
        elif modelled == HOUR:
            why = (
                f"sparser than an hourly model needs ({need}): whether it may "
                "advise is the baselines' verdict"
            )
        else:
            why = (
                "dense enough for an hourly model, but a source without time-of-day prices is "
                "modelled per day: its advice is one price per product"
            )
        return f"{sold}: {why}"

    def metadata(self, modelled: str) -> dict[str, object]:
        """The run's metadata: the grain `modelled`, the shares, rounded, the grain they
        support, and the `phrase`."""
        return {
            "grain": modelled,
            "density": self.phrase(modelled),
            "sale_hour_share": round(self.hour_share, 4),
            "sale_day_share": round(self.day_share, 4),
            "grain_supported": self.supported,
        }


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %" if share >= 0.01 or share == 0 else "under 1 %"


def density(sold: pd.DataFrame, last: pd.Timestamp) -> Density:
    """The density of `sold` (product_id, timestamp: one row per product-hour with a sale, more
    rows per hour are counted once), each product from its first sale to `last` (UTC)."""
    if sold.empty:
        return Density(0, 0, 0, 0, 0)
    ts = pd.to_datetime(sold["timestamp"], utc=True)
    end = pd.Timestamp(last)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    frame = pd.DataFrame({"product_id": sold["product_id"].to_numpy(), "hour": ts.dt.floor("h")})
    frame["day"] = frame["hour"].dt.floor("D")
    per = frame.groupby("product_id")
    first = per["hour"].min()
    hours = (end.floor("h") - first) // pd.Timedelta(hours=1) + 1
    days = (end.floor("D") - first.dt.floor("D")) // pd.Timedelta(days=1) + 1
    return Density(
        products=len(first),
        product_hours=int(hours.clip(lower=1).sum()),
        sale_hours=int(per["hour"].nunique().sum()),
        product_days=int(days.clip(lower=1).sum()),
        sale_days=int(per["day"].nunique().sum()),
    )
