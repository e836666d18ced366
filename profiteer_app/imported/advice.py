"""Recommendations for an import: the model's out-of-sample error against the naive forecasts and
the shop's pooled elasticity, then the per-product advice every source shows (`advice_view`).

The rule: a model is only as good as the baseline it beats. Where it does not win, the page says
so and shows no recommended price at all."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import advice_view, imports_ui, ui
from profiteer_app import formatting as fmt
from profiteer_app import imports_data as data
from profiteer_pipeline.sources.base import Source


def evidence(ev: pd.Series | None) -> None:
    """The model's out-of-sample error against the naive forecasts, and a warning when it loses
    to the product's 28-day mean."""
    if ev is None:
        st.caption("No evaluation stored for this model.")
        return
    if not imports_ui.held_out(ev):
        st.warning(
            "**The model could not be evaluated**: the import spans too few days to hold a week "
            "out after a week of history, so nobody knows yet whether it beats the product's "
            "28-day mean. **No price change is advised** until it can be.",
            icon=":material/warning:",
        )
        return
    st.caption(f"**Modelled**: {fmt.md_escape(ev['selection'])}.")
    e1, e2, e3, e4 = st.columns(4)
    e1.metric(
        "Model", f"v{int(ev['model_version'])}", border=True,
        help=f"`{ev['model']}`, trained {fmt.utc_label(ev['trained_at'])} on "
        f"{int(ev['training_rows']):,} rows, {int(ev['products_modelled']):,} products",
    )  # fmt: skip
    held = (
        f"{int(ev['held_out_rows']):,} product-days in {int(ev['folds'])} weekly folds from "
        f"{fmt.utc_label(ev['held_out_from'])} on, each forecast by a twin trained on the days "
        "before it"
    )
    e2.metric(
        "Out-of-sample RMSSE", f"{ev['model_rmsse']:.2f}",
        fmt.signed_percent(fmt.change_pct(ev["model_rmsse"], ev["trailing_mean_rmsse"])),
        delta_color="inverse", delta_description="vs the 28-day mean", border=True,
        help=f"M5's root mean squared scaled error of the units per day, over {held}",
    )  # fmt: skip
    e3.metric(
        "Poisson deviance", f"{ev['model_poisson_deviance']:.2f}",
        fmt.signed_percent(
            fmt.change_pct(ev["model_poisson_deviance"], ev["trailing_mean_poisson_deviance"])
        ),
        delta_color="inverse", delta_description="vs the 28-day mean", border=True,
        help="mean Poisson deviance of the units per day (fit for sparse counts: unlike MAE, "
        "it does not reward predicting zero)",
    )  # fmt: skip
    e4.metric(
        "28-day mean (RMSSE)", f"{ev['trailing_mean_rmsse']:.2f}", border=True,
        help=f"each product's mean units per day over the 28 days before each fold; the "
        f"seasonal naive (same weekday last week): RMSSE {ev['seasonal_naive_rmsse']:.2f}, "
        f"Poisson deviance {ev['seasonal_naive_poisson_deviance']:.2f}",
    )  # fmt: skip
    reason = data.model_loses(ev)
    if reason is not None:
        st.warning(
            f"**The model does not beat the product's 28-day mean** out of sample. {reason} It "
            "forecasts sales no better than each product's recent average, so **no price change "
            "is advised**.",
            icon=":material/warning:",
        )
    if pd.notna(ev.get("pooled_elasticity")):
        st.caption(
            f"The shop's pooled price elasticity: **{ev['pooled_elasticity']:.2f}** (90 % "
            f"interval {ev['pooled_elasticity_low']:.2f} to {ev['pooled_elasticity_high']:.2f}), "
            f"over the {int(ev['elasticity_products']):,} products whose offered price moved: "
            "a 1 % higher price changes units sold by about that many percent. Offered price: "
            "each day's median price of the product's small-quantity lines (bulk lines are "
            "billed at tier prices), the nearer observed day's where none sold."
        )
    if not ev["price_response_ok"]:
        st.warning(
            "**The model's price response failed its check**: some of its curves rise with the "
            "price, or most of them are flat. Products whose curve does not fall get no advice.",
            icon=":material/warning:",
        )


#: An import's prices, as the advice's captions say it.
PRICES = advice_view.Prices(
    base_and_today="The base price is the median price paid, today's price the latest day's "
    "offered price (the median of its small-quantity lines).",
    today="the latest day's offered price (median of its small-quantity lines)",
    baseline="product's 28-day mean",
)


def render(source: Source) -> None:
    st.title("Price recommendations")
    stored = imports_ui.advice_or_notice(source.name)
    if stored is None:
        return
    evidence(stored.evaluation)
    advice_view.products(
        stored,
        source,
        PRICES,
        pick=lambda table: ui.simulation_picker(
            source, table, key="advice_pick", label="Open simulation"
        ),
    )
