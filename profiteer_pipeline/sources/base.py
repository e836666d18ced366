"""What a source of sales is, and what it can tell: the one description the layers after it read.

A source lands its sales in the warehouse: the simulated shop (`shop`: the generator, its API,
Airbyte, hourly) or an imported order export (`file`: Airbyte's File source, once per file).
What follows asks a source's capabilities, not its kind: the funnel charts only where a source has
views, time-of-day buckets only where its prices and traffic have them, profit only where unit
costs are known, money in the source's currency.

Pure (no Dagster, no database): the pipeline, the app and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["shop", "file"]


@dataclass(frozen=True)
class Capabilities:
    """What a source's data holds beyond units and prices paid per product and hour."""

    funnel: bool = False  # views and cart adds per product-hour
    catalog: bool = False  # price bounds and a current price per product
    unit_costs: bool = False  # a cost per unit: advice can maximize profit
    time_of_day: bool = False  # prices and traffic by time-of-day bucket
    hourly_forecast: bool = False  # its model forecasts the next 24 hours, hour by hour
    live: bool = False  # sales arrive hour by hour: the latest day may still be filling up
    currency: str | None = None  # ISO 4217; None: not given (the app shows its own default)

    def lines(self) -> list[str]:
        """One line per capability, for a summary a person reads."""

        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        return [
            f"funnel (views, cart adds): {yes(self.funnel)}",
            f"catalog (price bounds, current price): {yes(self.catalog)}",
            f"unit costs: {yes(self.unit_costs)}",
            f"time-of-day buckets: {yes(self.time_of_day)}",
        ]


@dataclass(frozen=True)
class Source:
    """One source: its name (an import's name, or `shop`), its kind, how a person sees it, its
    capabilities, and its schema."""

    name: str
    kind: Kind
    label: str
    capabilities: Capabilities
    schema: str  # where its metric tables are
    products: tuple[str, str]  # (schema, table) of its products: ids, names, categories, prices
    results: str  # where its model's per-product results are: price_advice, price_curves

    @property
    def is_import(self) -> bool:
        return self.kind == "file"


#: The simulated shop: every record carries its funnel and time-of-day bucket, the catalog its
#: price bounds; money in the app's own currency (PROFITEER_CURRENCY, default $).
SHOP = Source(
    name="shop",
    kind="shop",
    label="Simulated shop",
    capabilities=Capabilities(
        funnel=True, catalog=True, time_of_day=True, hourly_forecast=True, live=True
    ),
    schema="analytics",
    products=("public", "products"),
    results="shop_model",
)
