"""Recommendations for an import: the model's best price per product with its evidence (sale
hours, distinct prices paid, the held-out error against the naive baseline), the products with
no price change advised (the model does not beat the baseline, or the curve does not fall with
the price) and those with too little data for a price curve, each with the reason.

The rule: a model is only as good as the baseline it beats. Where it does not win, the page says
so and shows no recommended price at all."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import imports_ui, ui
from profiteer_app.imported import catalog

ADVICE_COLUMNS = ["product_name", "product_id", "category", "base_price", "best_price",
                  "change_pct", "units_per_day_at_base", "units_per_day_at_best",
                  "revenue_per_day_at_base", "revenue_per_day_at_best", "gain_per_day",
                  "revenue_uplift_pct", "sale_hours", "price_points", "note"]  # fmt: skip


def advice_table(advised: pd.DataFrame) -> pd.DataFrame:
    """The advised products as shown: the price change and the revenue gain per day added."""
    return advised.assign(
        change_pct=(advised["best_price"] / advised["base_price"] - 1) * 100,
        gain_per_day=advised["revenue_per_day_at_best"] - advised["revenue_per_day_at_base"],
    )[ADVICE_COLUMNS].reset_index(drop=True)


def evidence(ev: pd.Series | None) -> None:
    """The model's held-out error against the naive baseline, and a warning when it loses."""
    if ev is None:
        st.caption("No evaluation stored for this model.")
        return
    if not imports_ui.held_out(ev):
        st.warning(
            "**The model could not be evaluated**: the import spans too few days to hold any "
            "out, so nobody knows yet whether it beats the naive baseline (the product's "
            "average for that time of day). **No price change is advised** until it can be.",
            icon=":material/warning:",
        )
        return
    e1, e2, e3, e4 = st.columns(4)
    e1.metric(
        "Model", f"v{int(ev['model_version'])}", border=True,
        help=f"`{ev['model']}`, trained {fmt.utc_label(ev['trained_at'])}",
    )  # fmt: skip
    e2.metric(
        "Held-out error (MAE)", f"{ev['model_mae']:.2f}",
        fmt.signed_percent(fmt.change_pct(ev["model_mae"], ev["baseline_mae"])),
        delta_color="inverse", delta_description="vs the naive baseline", border=True,
        help=f"mean absolute error of the units predicted for {int(ev['held_out_rows']):,} "
        f"held-out product-hours from {fmt.utc_label(ev['held_out_from'])} on",
    )  # fmt: skip
    e3.metric(
        "Naive baseline (MAE)", f"{ev['baseline_mae']:.2f}", border=True,
        help="the product's average units for that time of day, on the same held-out hours",
    )  # fmt: skip
    e4.metric(
        "Training", f"{int(ev['training_rows']):,} rows", border=True,
        help=f"{int(ev['products_modelled']):,} products modelled",
    )  # fmt: skip
    if not ev["beats_baseline"]:
        st.warning(
            "**The model does not beat the naive baseline** on the held-out hours "
            f"(MAE {ev['model_mae']:.2f} against {ev['baseline_mae']:.2f}): it predicts sales "
            "no better than each product's usual sales, so **no price change is advised**.",
            icon=":material/warning:",
        )
    if not ev["price_response_ok"]:
        st.warning(
            "**The model's price response failed its check**: some of its curves rise with the "
            "price, or most of them are flat. Products whose curve does not fall get no advice.",
            icon=":material/warning:",
        )


def render(name: str) -> None:
    st.title("Price recommendations")
    stored = imports_ui.advice_or_notice(name)
    if stored is None:
        return
    evidence(stored.evaluation)
    advised, no_change, too_little = stored.advised, stored.no_change, stored.too_little

    st.subheader("Best price per product")
    if advised.empty and not no_change.empty:
        st.info(
            "**No recommended price**: no product's advice passes the rule (a model that beats "
            "the naive baseline and a curve that falls with the price). See below why.",
            icon=":material/block:",
        )
    elif advised.empty:
        st.info("No product has enough sales at different prices for a price curve yet.")
    else:
        table = advice_table(advised)
        gain = float(table["gain_per_day"].clip(lower=0).sum())
        st.metric(
            "Applying every best price", f"{'+' if gain >= 0 else '−'}{fmt.money(abs(gain))}/day",
            help="the expected revenue per day at each best price minus at its base price "
            "(the median price paid), summed over the products with advice", border=True,
        )  # fmt: skip
        st.caption(
            f"{len(table)} products with a price curve. The base price is the median price "
            "paid; the best price maximizes the model's expected revenue per day inside the "
            "range of prices the product actually sold at. Sale hours and distinct prices paid "
            "are the evidence behind each curve."
        )
        money = ui.money_column_format()
        st.dataframe(
            table,
            hide_index=True,
            key="import_advice",
            column_config={
                **imports_ui.product_columns(),
                "best_price": st.column_config.NumberColumn("Best price", format=money),
                "change_pct": st.column_config.NumberColumn("Change", format="%+.1f %%"),
                "units_per_day_at_base": st.column_config.NumberColumn("Units/day now",
                                                                       format="%.2f"),
                "units_per_day_at_best": st.column_config.NumberColumn("Units/day at best",
                                                                       format="%.2f"),
                "revenue_per_day_at_base": st.column_config.NumberColumn("Revenue/day now",
                                                                         format=money),
                "revenue_per_day_at_best": st.column_config.NumberColumn("Revenue/day at best",
                                                                         format=money),
                "gain_per_day": st.column_config.NumberColumn("Gain/day", format=money),
                "revenue_uplift_pct": st.column_config.NumberColumn("Uplift", format="%+.1f %%"),
                "sale_hours": st.column_config.NumberColumn("Sale hours", format="localized"),
                "price_points": st.column_config.NumberColumn("Prices paid"),
                "note": st.column_config.TextColumn("Evidence", width="large"),
            },
        )  # fmt: skip
        catalog.simulation_picker(name, table, key="import_advice_pick", label="Open simulation")

    st.subheader("No price change advised")
    if no_change.empty:
        st.caption("Every product with a price curve has a best price.")
    else:
        st.caption(
            f"{len(no_change)} {'product' if len(no_change) == 1 else 'products'} with a price "
            "curve but no advice: keep the current price. The model must beat the naive baseline "
            "on held-out hours, and the curve must fall with the price."
        )
        _unpriced(no_change, ["category"], key="import_no_change", why="Why no change")

    st.subheader("Too little data for a price curve")
    if too_little.empty:
        st.caption("Every product has a price curve.")
    else:
        st.caption(
            f"{len(too_little)} {'product' if len(too_little) == 1 else 'products'}: sold in "
            "too few hours or at too few different prices for the model to tell how sales "
            "respond to the price."
        )
        _unpriced(too_little, [], key="import_too_little", why="Why no curve")


def _unpriced(products, extra: list[str], *, key: str, why: str) -> None:
    """The products that get no best price, each with the reason in its note."""
    st.dataframe(
        products[["product_name", "product_id", *extra, "base_price", "sale_hours",
                  "price_points", "note"]],
        hide_index=True,
        key=key,
        column_config={
            **imports_ui.product_columns(),
            "sale_hours": st.column_config.NumberColumn("Sale hours"),
            "price_points": st.column_config.NumberColumn("Prices paid"),
            "note": st.column_config.TextColumn(why, width="large"),
        },
    )  # fmt: skip
