"""The per-product advice every source's Recommendations page shows, from its `price_advice`
(the contract: `advice_data`): how the model did out of sample against the naive forecasts
(`model_evaluation`), the best price per product with its evidence, the products with no change
advised and those with too little data, each with the reason, the products that are not
merchandise, and the CSV of the whole table.

The rule: a model is only as good as the baseline it beats. Where it does not win, no product has
a recommended price, and the notes say why."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from profiteer_app import advice_data, ui
from profiteer_app import formatting as fmt
from profiteer_app.advice_data import Advice
from profiteer_pipeline.model import figures
from profiteer_pipeline.model.figures import Yardstick
from profiteer_pipeline.pricing.advice_table import objective_gain
from profiteer_pipeline.sources.base import Source
from profiteer_pipeline.warehouse.source_tables import REASONS


@dataclass(frozen=True)
class Wording:
    """What a source's prices are and how its model was held out, as the captions say it."""

    yardstick: Yardstick  # what the model must beat out of sample, and how it was held out
    base_and_today: str  # what the base price and today's price are
    today: str  # the column help of today's price
    held_out: str  # what was held out: formatted with rows, folds, since
    offered: str  # the price the elasticity is estimated on
    curve: str  # how the daily curve is made from the model's predictions
    observed: str  # what the simulation's observed points are
    estimated: str  # what the elasticity was estimated from


#: The simulated shop: one price per product and hour, a model at product-hour held out a day.
HOURLY = Wording(
    yardstick=figures.HOURLY,
    base_and_today="The base price is the catalog's, today's price the latest hour's; the "
    "curve is the model's purchases per hour at each price, summed over a day's hours.",
    today="the latest hour's price",
    held_out="{rows:,} product-hours of the latest 24 hours from {since}, forecast by a twin "
    "trained without them",
    offered="the price paid each hour (drawn afresh every hour, so it is the price offered)",
    curve=", each price's purchases per hour in every time of day's typical hour, times its "
    "hours in a day",
    observed="what this product sold per hour at each price, times 24 (its price is drawn "
    "afresh every hour; bigger: more hours).",
    estimated="this product's own hours at different prices, controlling for each hour (traffic "
    "moves every product's sales by the hour)",
)
#: An order export: prices paid per line, a model at product-day held out in weekly folds.
DAILY = Wording(
    yardstick=figures.DAILY,
    base_and_today="The base price is the median price paid, today's price the latest day's "
    "offered price (the median of its small-quantity lines).",
    today="the latest day's offered price (median of its small-quantity lines)",
    held_out="{rows:,} product-days in {folds} weekly folds from {since} on, each forecast by "
    "a twin trained on the days before it",
    offered="each day's median price of the product's small-quantity lines (bulk lines are "
    "billed at tier prices), the nearer observed day's where none sold",
    curve="",
    observed="what this product sold, per day, on the days it was offered at each price "
    "(bigger: more days); the price offered on a day is the median unit price of its small "
    "lines, so a bulk tier is no price change.",
    estimated="this product's own days at different offered prices, controlling for the week "
    "and the weekday",
)


def wording(source: Source) -> Wording:
    """How the source's prices and model are described: by its model's grain."""
    return next(w for w in (HOURLY, DAILY) if w.yardstick == advice_data.yardstick(source))


def evidence(stored: Advice, source: Source) -> None:
    """The model's out-of-sample error against the naive forecasts, a warning when it loses to
    the trailing mean, and the shop's pooled elasticity."""
    words, ev = wording(source), stored.evaluation
    if ev is None:
        st.caption("No evaluation stored for this model.")
        return
    if not advice_data.held_out(ev):
        st.warning(
            f"**The model could not be evaluated**: the data are too short for "
            f"{words.yardstick.too_short}, so nobody knows yet whether it beats the "
            f"{words.yardstick.baseline}. **No price change is advised** until it can be.",
            icon=":material/warning:",
        )
        return
    st.caption(f"**Modelled**: {fmt.md_escape(ev['selection'])}.")
    # two cards a row: at four a row the delta's caption was cut at 1,400 pixels
    (e1, e2), (e3, e4) = st.columns(2), st.columns(2)
    e1.metric(
        "Model", f"v{int(ev['model_version'])}", border=True,
        help=f"`{ev['model']}`, trained {fmt.utc_label(ev['trained_at'])} on "
        f"{int(ev['training_rows']):,} rows, {int(ev['products_modelled']):,} products",
    )  # fmt: skip
    held = words.held_out.format(
        rows=int(ev["held_out_rows"]),
        folds=int(ev["folds"]),
        since=fmt.utc_label(ev["held_out_from"]),
    )
    versus = f"vs {words.yardstick.short}"
    e2.metric(
        "Out-of-sample RMSSE", f"{ev['model_rmsse']:.2f}",
        fmt.signed_percent(fmt.change_pct(ev["model_rmsse"], ev["trailing_mean_rmsse"])),
        delta_color="inverse", delta_description=versus, border=True,
        help=f"M5's root mean squared scaled error, over {held}",
    )  # fmt: skip
    e3.metric(
        "Poisson deviance", f"{ev['model_poisson_deviance']:.2f}",
        fmt.signed_percent(
            fmt.change_pct(ev["model_poisson_deviance"], ev["trailing_mean_poisson_deviance"])
        ),
        delta_color="inverse", delta_description=versus, border=True,
        help="mean Poisson deviance of the units sold (fit for sparse counts: unlike MAE, it "
        "does not reward predicting zero)",
    )  # fmt: skip
    e4.metric(
        f"{words.yardstick.short.capitalize()} (RMSSE)", f"{ev['trailing_mean_rmsse']:.2f}",
        border=True,
        help=f"the {words.yardstick.baseline}; the {words.yardstick.seasonal}: RMSSE "
        f"{ev['seasonal_naive_rmsse']:.2f}, Poisson deviance "
        f"{ev['seasonal_naive_poisson_deviance']:.2f}",
    )  # fmt: skip
    reason = advice_data.model_loses(ev, source)
    if reason is not None:
        st.warning(
            f"**The model does not beat the {words.yardstick.baseline}** out of sample. {reason} "
            "It forecasts sales no better than each product's recent average, so **no price "
            "change is advised**.",
            icon=":material/warning:",
        )
    if pd.notna(ev.get("pooled_elasticity")):
        st.caption(
            f"The shop's pooled price elasticity: **{ev['pooled_elasticity']:.2f}** (90 % "
            f"interval {ev['pooled_elasticity_low']:.2f} to {ev['pooled_elasticity_high']:.2f}), "
            f"over the {int(ev['elasticity_products']):,} products whose offered price moved: "
            "a 1 % higher price changes units sold by about that many percent. Offered price: "
            f"{words.offered}."
        )
    if not ev["price_response_ok"]:
        st.warning(
            "**The model's price response failed its check**: some of its curves rise with the "
            "price, or most of them are flat. Products whose curve does not fall get no advice.",
            icon=":material/warning:",
        )


SHOWN = ["product_name", "product_id", "category", "base_price", "current_price",
                  "best_price", "change_pct", "guardrail", "units_per_day_at_current",
                  "units_per_day_at_base", "units_per_day_at_best",
                  "revenue_per_day_at_current", "revenue_per_day_at_best", "gain_per_day",
                  "gain_per_day_low", "gain_per_day_high", "revenue_uplift_pct", "unit_cost",
                  "profit_per_day_at_current", "profit_per_day_at_best", "objective",
                  "elasticity", "elasticity_low", "elasticity_high", "sale_hours", "price_points",
                  "note"]  # fmt: skip


GAIN_RANGE = (
    "the least (low) and the most (high) the move adds per day, at either end of the product's "
    "90 % elasticity interval or on the model's curve: how sure the data are of the move"
)

#: what the no-price tables show of each product's evidence
EVIDENCE = ["base_price", "sale_hours", "price_points"]


def advice_table(advised: pd.DataFrame) -> pd.DataFrame:
    """The advised products as shown: the change from today's price and the gain per day added,
    in what the advice maximizes (revenue, or profit where a unit cost is known), as its stored
    90 % range is."""
    return (
        advised.assign(
            change_pct=(advised["best_price"] / advised["current_price"] - 1) * 100,
            gain_per_day=objective_gain(advised),
        )[SHOWN]
        .pipe(ui.dashed)
        .reset_index(drop=True)
    )


def products(stored: Advice, source: Source) -> None:
    """The sections, for `source`'s stored advice, with a picker that opens an advised
    product's price simulation."""
    advised, no_change, too_little = stored.advised, stored.no_change, stored.too_little
    words = wording(source)

    st.subheader("Best price per product")
    if advised.empty and not no_change.empty:
        st.info(
            "**No recommended price**: no product's advice passes the rule (a model that beats "
            f"the {words.yardstick.baseline} out of sample, a curve that falls with the price and "
            "an elasticity interval below zero). See below why.",
            icon=":material/block:",
        )
    elif advised.empty:
        st.info("No product has enough sales at different prices for a price curve yet.")
    else:
        table = advice_table(advised)
        gain = float(table["gain_per_day"].clip(lower=0).sum())
        low, high = (float(table[f"gain_per_day_{end}"].sum()) for end in ("low", "high"))
        st.metric(
            "Applying every best price", f"{fmt.signed_money(gain)}/day",
            f"90 %: {fmt.signed_money(low)} to {fmt.signed_money(high)}", delta_color="off",
            delta_arrow="off",
            help="the expected revenue (profit where a unit cost is known) per day at each best "
            "price minus at today's price, summed over the products with advice; the range sums "
            "each product's own, as if every product's elasticity lay at the same end of its "
            "interval", border=True,
        )  # fmt: skip
        st.caption(
            f"{len(table)} products with a price curve. {words.base_and_today} The best price "
            "maximizes the model's expected revenue per day within the shop's guardrails (by "
            "default at most ±10 % from today's price per step and within 5 % of the prices the "
            "product sold at; the shop's own in `.profiteer/guardrails.toml`)"
            + (", inside the catalog's price bounds" if source.capabilities.catalog else "")
            + ", and Guardrail names the one that bound it. Gain/day is what the move adds, "
            "with its 90 % range: at either end of the product's own elasticity interval. Sale "
            "hours and distinct prices paid are the evidence behind each curve."
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
                    help=words.today,
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
                "gain_per_day": st.column_config.NumberColumn(
                    "Gain/day", format=money, help="what the move adds per day, in what Maximizes "
                    "names",
                ),
                "gain_per_day_low": st.column_config.NumberColumn(
                    "Gain/day, 90 % low", format=money, help=GAIN_RANGE,
                ),
                "gain_per_day_high": st.column_config.NumberColumn(
                    "Gain/day, 90 % high", format=money, help=GAIN_RANGE,
                ),
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
        ui.simulation_picker(source, table, key="advice_pick", label="Open simulation")

    _unpriced(
        "No price change advised", no_change.assign(reason=no_change["reason"].map(REASONS)),
        key="advice_no_change", why="Why no change",
        empty="Every product with a price curve has a best price.",
        says=f"{_count(len(no_change), 'product', 'products')} with a price curve but no "
        f"advice: keep the current price. The model must beat the {words.yardstick.baseline} "
        "out of sample, the curve must fall with the price, and the product's own elasticity "
        "interval must lie below zero and back the way the price would move."
        + by_reason(no_change["reason"]),
        columns=["category", "reason", "elasticity", "elasticity_low", "elasticity_high",
                 *EVIDENCE],
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


def by_reason(codes: pd.Series) -> str:
    """' By reason: 955 the curve and its own elasticity disagree · 743 ...' (most first), from
    the rows' `reason` codes; empty without any."""
    counts = codes.dropna().map(REASONS).value_counts()
    if counts.empty:
        return ""
    return " By reason: " + " · ".join(f"{n:,} {label}" for label, n in counts.items()) + "."


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
            "reason": st.column_config.TextColumn("Reason", help="the rule that kept the price"),
            **elasticity_columns(),
            "note": st.column_config.TextColumn(why, width="large"),
        },
    )  # fmt: skip
