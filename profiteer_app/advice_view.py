"""The per-product advice every source's Recommendations page shows, from its `price_advice`
(the contract: `advice_data`): the best price per product with its evidence, the products with no
change advised and those with too little data, each with the reason, the products that are not
merchandise, and the CSV of the whole table.

The rule: a model is only as good as the baseline it beats. Where it does not win, no product has
a recommended price, and the notes say why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import ui
from profiteer_app.advice_data import Advice
from profiteer_pipeline.sources.base import Source


@dataclass(frozen=True)
class Prices:
    """What a source's prices are, as the tables' captions say it."""

    base_and_today: str  # what the base price and today's price are
    today: str  # the column help of today's price
    baseline: str  # what the model must beat out of sample


SHOWN = ["product_name", "product_id", "category", "base_price", "current_price",
                  "best_price", "change_pct", "guardrail", "units_per_day_at_current",
                  "units_per_day_at_base", "units_per_day_at_best",
                  "revenue_per_day_at_current", "revenue_per_day_at_best", "gain_per_day",
                  "revenue_uplift_pct", "unit_cost", "profit_per_day_at_current",
                  "profit_per_day_at_best", "objective", "elasticity", "elasticity_low",
                  "elasticity_high", "sale_hours", "price_points", "note"]  # fmt: skip


#: what the no-price tables show of each product's evidence
EVIDENCE = ["base_price", "sale_hours", "price_points"]


def advice_table(advised: pd.DataFrame) -> pd.DataFrame:
    """The advised products as shown: the change from today's price and the revenue gain per day
    added."""
    return (
        advised.assign(
            change_pct=(advised["best_price"] / advised["current_price"] - 1) * 100,
            gain_per_day=advised["revenue_per_day_at_best"] - advised["revenue_per_day_at_current"],
        )[SHOWN]
        .pipe(ui.dashed)
        .reset_index(drop=True)
    )


def products(
    stored: Advice,
    source: Source,
    prices: Prices,
    pick: Callable[[pd.DataFrame], None] | None = None,
) -> None:
    """The sections, for `source`'s stored advice; `pick` offers the advised products' price
    simulation (None: not offered)."""
    advised, no_change, too_little = stored.advised, stored.no_change, stored.too_little

    st.subheader("Best price per product")
    if advised.empty and not no_change.empty:
        st.info(
            "**No recommended price**: no product's advice passes the rule (a model that beats "
            f"the {prices.baseline} out of sample, a curve that falls with the price and an "
            "elasticity interval below zero). See below why.",
            icon=":material/block:",
        )
    elif advised.empty:
        st.info("No product has enough sales at different prices for a price curve yet.")
    else:
        table = advice_table(advised)
        gain = float(table["gain_per_day"].clip(lower=0).sum())
        st.metric(
            "Applying every best price", f"{'+' if gain >= 0 else '−'}{fmt.money(abs(gain))}/day",
            help="the expected revenue per day at each best price minus at today's price, "
            "summed over the products with advice", border=True,
        )  # fmt: skip
        st.caption(
            f"{len(table)} products with a price curve. {prices.base_and_today} The best price "
            "maximizes the "
            "model's expected revenue per day within the shop's guardrails (by default at most "
            "±10 % from today's price per step and within 5 % of the prices the product sold "
            "at; the shop's own in `.profiteer/guardrails.toml`), and Guardrail names the one "
            "that bound it. Sale hours and distinct prices paid are the evidence behind each "
            "curve."
        )
        money = ui.money_column_format()
        st.dataframe(
            table,
            hide_index=True,
            key="advice",
            column_config={
                **ui.product_columns(),
                "current_price": st.column_config.NumberColumn(
                    "Today's price", format=money,
                    help=prices.today,
                ),
                "best_price": st.column_config.NumberColumn("Best price", format=money),
                "change_pct": st.column_config.NumberColumn(
                    "Change", format="%+.1f %%", help="from today's price"
                ),
                "guardrail": st.column_config.TextColumn(
                    "Guardrail", help="the shop's guardrail that bound the best price, if any"
                ),
                "units_per_day_at_current": st.column_config.NumberColumn(
                    "Units/day today", format="%.2f",
                    help="the model's expected units per day at today's price",
                ),
                "units_per_day_at_base": st.column_config.NumberColumn("Units/day at base",
                                                                       format="%.2f"),
                "units_per_day_at_best": st.column_config.NumberColumn("Units/day at best",
                                                                       format="%.2f"),
                "revenue_per_day_at_current": st.column_config.NumberColumn("Revenue/day now",
                                                                         format=money),
                "revenue_per_day_at_best": st.column_config.NumberColumn("Revenue/day at best",
                                                                         format=money),
                "gain_per_day": st.column_config.NumberColumn("Gain/day", format=money),
                "unit_cost": st.column_config.NumberColumn("Unit cost", format=money),
                "profit_per_day_at_current": st.column_config.NumberColumn(
                    "Profit/day today", format=money
                ),
                "profit_per_day_at_best": st.column_config.NumberColumn(
                    "Profit/day at best", format=money
                ),
                "objective": st.column_config.TextColumn(
                    "Maximizes", help="profit where a unit cost is known (`profiteer costs`), "
                    "else revenue",
                ),
                "revenue_uplift_pct": st.column_config.NumberColumn("Uplift", format="%+.1f %%"),
                **elasticity_columns(),
                "sale_hours": st.column_config.NumberColumn("Sale hours", format="localized"),
                "price_points": st.column_config.NumberColumn("Prices paid"),
                "note": st.column_config.TextColumn("Evidence", width="large"),
            },
        )  # fmt: skip
        if pick is not None:
            pick(table)

    _unpriced(
        "No price change advised", no_change, key="advice_no_change", why="Why no change",
        empty="Every product with a price curve has a best price.",
        says=f"{_count(len(no_change), 'product', 'products')} with a price curve but no "
        f"advice: keep the current price. The model must beat the {prices.baseline} out of "
        "sample, the curve must fall with the price, and the product's own elasticity interval "
        "must lie below zero and back the way the price would move.",
        columns=["category", "elasticity", "elasticity_low", "elasticity_high", *EVIDENCE],
    )  # fmt: skip
    _unpriced(
        "Too little data for a price curve", too_little, key="advice_too_little",
        why="Why no curve", empty="Every product has a price curve.",
        says=f"{_count(len(too_little), 'product', 'products')}: sold in too few hours or at "
        "too few different prices for the model to tell how sales respond to the price.",
        columns=EVIDENCE,
    )  # fmt: skip

    st.download_button(
        "Download CSV", stored.table.to_csv(index=False).encode(),
        file_name=f"{source.name}_price_advice.csv", mime="text/csv", icon=":material/download:",
        key="advice_csv",
        help="every product's row of price_advice: status, prices, elasticity, guardrail, note",
    )  # fmt: skip

    excluded = stored.excluded
    _unpriced(
        "Not merchandise", excluded, key="advice_excluded", why="Why not priced", empty=None,
        says=f"{_count(len(excluded), 'line', 'lines')} of the file that are not products to "
        "price (postage, fees, adjustments): never priced, their sales still count in the "
        "totals.",
        columns=[],
    )  # fmt: skip


def elasticity_columns() -> dict:
    """The elasticity and its 90 % interval, as every advice table shows them."""
    return {
        "elasticity": st.column_config.NumberColumn(
            "Elasticity", format="%.2f",
            help="% change in units sold for a 1 % higher price (the product's own estimate)",
        ),
        "elasticity_low": st.column_config.NumberColumn("90 % low", format="%.2f"),
        "elasticity_high": st.column_config.NumberColumn("90 % high", format="%.2f"),
    }  # fmt: skip


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _unpriced(
    title: str,
    products: pd.DataFrame,
    *,
    key: str,
    why: str,
    empty: str | None,
    says: str,
    columns: list[str],
) -> None:
    """A section of the products that get no best price, each with the reason in its note; a
    section whose `empty` is None is left out when it has none."""
    if products.empty and empty is None:
        return
    st.subheader(title)
    if products.empty:
        st.caption(empty)
        return
    st.caption(says)
    st.dataframe(
        ui.dashed(products[["product_name", "product_id", *columns, "note"]]),
        hide_index=True,
        key=key,
        column_config={
            **ui.product_columns(),
            "sale_hours": st.column_config.NumberColumn("Sale hours"),
            "price_points": st.column_config.NumberColumn("Prices paid"),
            **elasticity_columns(),
            "note": st.column_config.TextColumn(why, width="large"),
        },
    )  # fmt: skip
