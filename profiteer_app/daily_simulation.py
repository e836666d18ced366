"""The per-day price simulation every source's page shows: a product's stored daily curve
(`price_curves`, beside the advice's contract `price_advice` in the source's results schema),
interpolated at the slider's price on the demand line the advice reads: units and revenue per
day, the best price with the guardrail that bound it, the product's elasticity with its 90 %
interval, and what was observed. A product with no best price says why instead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from profiteer_app import advice_data
from profiteer_app import formatting as fmt
from profiteer_app import simulation_charts as price_charts
from profiteer_pipeline.pricing.advice_table import objective_gain

SLIDER_STEPS = 60


def slider_prices(lo: float, hi: float, marks: list[float | None]) -> list[float]:
    """About 60 even steps over [lo, hi] plus the prices that matter (base, current, best)."""
    even = np.linspace(lo, hi, SLIDER_STEPS + 1)
    keep = [float(m) for m in marks if m is not None and lo <= m <= hi]
    return sorted({round(float(p), 2) for p in [*even, *keep]})


def notice(product: pd.Series) -> bool:
    """Say why a product has no best price (no change advised, not merchandise, too little
    data); False when it has one."""
    name = fmt.md_escape(product["product_name"] or product["product_id"])
    if product["status"] == "advice":
        return False
    if product["status"] == "no_change":
        st.info(
            f"**No price change advised** for {name}: {fmt.md_escape(product['note'])}",
            icon=":material/block:",
        )
    elif product["status"] == "excluded":
        st.info(fmt.md_escape(product["note"]), icon=":material/block:")
    else:
        st.info(
            f"**Too little data for a price curve** for {name}: {fmt.md_escape(product['note'])}",
            icon=":material/data_alert:",
        )
    return True


def section(
    product: pd.Series,
    curve: pd.DataFrame,
    seen: pd.DataFrame | None,
    *,
    model: str,
    observed: str,
    estimated: str,
) -> None:
    """The product's stored daily curve at the slider's price, its best price with the
    guardrail that bound it, its elasticity, and the evidence: `model` says which training made
    the curve, `observed` what the coloured points are (the source's own observations),
    `estimated` what the elasticity was estimated from."""
    pid = str(product["product_id"])
    base, best = float(product["base_price"]), float(product["best_price"])
    # the prices the curve spans, widened to the best price (the guardrails let it lie a little
    # beyond the prices tested: the demand line reaches it)
    lo = min(float(curve["price"].min()), best)
    hi = max(float(curve["price"].max()), best)
    steps = slider_prices(lo, hi, [base, best])
    key = f"daily_price_{pid}"
    if st.session_state.get(key) not in steps:
        st.session_state[key] = min(steps, key=lambda s: abs(s - base))
    price = st.select_slider(
        f"Price ({fmt.currency_symbol()})", options=steps, key=key,
        format_func=lambda x: fmt.money(x, exact=True) + (" · base" if x == round(base, 2)
        else "") + (" · best" if x == round(best, 2) else ""),
        help="the prices this product was sold at, and its best price where the guardrails "
        "let it lie a little beyond them",
    )  # fmt: skip
    units, revenue = advice_data.units_and_revenue_at(curve, float(price))
    base_units, base_revenue = advice_data.units_and_revenue_at(curve, base)
    best_units, best_revenue = advice_data.units_and_revenue_at(curve, best)

    c1, c2, c3 = st.columns(3)
    c1.metric(
        f"Units/day at {fmt.money(price, exact=True)}", f"{units:.2f}",
        fmt.signed_percent(fmt.change_pct(units, base_units)),
        delta_description="vs the base price", border=True,
        help="on the demand line fitted to the stored curve (no model call)",
    )  # fmt: skip
    c2.metric(
        "Expected revenue/day", fmt.money(revenue, exact=True),
        fmt.signed_percent(fmt.change_pct(revenue, base_revenue)),
        delta_description="vs the base price", border=True,
        help=f"units/day × price; {fmt.money(base_revenue, exact=True)}/day at the base price "
        f"{fmt.money(base, exact=True)}",
    )  # fmt: skip
    c3.metric(
        "Best price, all day", fmt.money(best, exact=True),
        f"{fmt.change_pct(best, base):+.1f} % vs base", delta_color="off", border=True,
        help=f"{best_units:.2f} units and {fmt.money(best_revenue, exact=True)} revenue per day",
    )  # fmt: skip

    units_fig, revenue_fig = price_charts.daily_curve_figures(
        curve, best_price=best, marks={"base": base, "slider": float(price)}, observed=seen
    )
    g1, g2 = st.columns(2)
    g1.plotly_chart(units_fig, key="daily_units_curve")
    g2.plotly_chart(revenue_fig, key="daily_revenue_curve")
    evidence = (
        f"**Stored curve, interpolated** — {len(curve)} prices from the model{model}"
        + f". Evidence: {int(product['sale_hours']):,} hours with a sale at "
        f"{int(product['price_points'])} different prices. {fmt.md_escape(str(product['note'] or '').rstrip('.'))}."
        " Grey points: the model's own prediction at each price; the line: the straight demand"
        " line fitted to them, which the slider and the advice read (the model's points step"
        f" where its trees split). Coloured points: {observed}"
        " Vertical lines: base price (dashed), the slider (red)."
    )  # fmt: skip
    st.caption(evidence)
    st.caption(elasticity_line(product, estimated))
    if product.get("objective") == "profit":
        st.caption(
            f"**Maximizes profit**: unit cost {fmt.money(float(product['unit_cost']), exact=True)}"
            f"; {fmt.money(float(product['profit_per_day_at_best']), exact=True)} profit per day "
            "at the best price (the revenue cards above are before costs)."
        )
    if pd.notna(product.get("gain_per_day_low")):
        st.caption(gain_line(product))
    bound = product.get("guardrail")
    st.caption(
        f"**Guardrail**: {fmt.md_escape(str(bound))}" + (
            " (the best price moved as far as the shop's guardrails allow)"
            if bound not in (None, "none") and pd.notna(bound) else
            " (the best price is the curve's own, inside every guardrail)"
        )
    )  # fmt: skip


def gain_line(product: pd.Series) -> str:
    """What the move to the best price adds per day, with its 90 % range (`gain_per_day_low`,
    `gain_per_day_high`: at either end of the product's elasticity interval)."""
    gain = float(objective_gain(pd.DataFrame([product])).iloc[0])
    low, high = float(product["gain_per_day_low"]), float(product["gain_per_day_high"])
    return (
        f"**Gain of the move**: {fmt.signed_money(gain)} {product['objective']} per day from "
        "today's price "
        f"(90 %: {fmt.signed_money(low)} to {fmt.signed_money(high)}, if the elasticity lies "
        "anywhere in its interval)."
    )


def elasticity_line(product: pd.Series, estimated: str) -> str:
    """The product's own elasticity with its 90 % interval: what the advice rests on;
    `estimated` says from what."""
    e, lo, hi = (product[c] for c in ("elasticity", "elasticity_low", "elasticity_high"))
    return (
        f"**Elasticity {e:.2f}** (90 % interval {lo:.2f} to {hi:.2f}): a 1 % higher price "
        f"changes units sold by about {e:.2f} %, estimated from {estimated}."
    )
