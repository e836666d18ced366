"""Price simulation for an imported product: its stored curve (`price_curves`, written by the
`import_forecast` asset after each training), interpolated at the slider's price: units and
revenue per day, the best price marked. Products with too little data, and those with no price
change advised (the model does not beat the baseline, or the curve does not fall), say so and
why instead: no recommended price."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import imports_data as data
from profiteer_app import imports_ui, ui
from profiteer_app import simulation_charts as price_charts

KEY = "import_product"
SLIDER_STEPS = 60


def slider_prices(curve: pd.DataFrame, marks: list[float]) -> list[float]:
    """About 60 even steps over the curve's price range, plus the base and best prices."""
    lo, hi = float(curve["price"].min()), float(curve["price"].max())
    even = np.linspace(lo, hi, SLIDER_STEPS + 1)
    keep = [float(m) for m in marks if m is not None and lo <= m <= hi]
    return sorted({round(float(p), 2) for p in [*even, *keep]})


def render(name: str) -> None:
    st.title("Price simulation")
    stored = imports_ui.advice_or_notice(name)
    if stored is None:
        return
    table = stored.table
    if table.empty:
        st.info("The model stored no products for this import.")
        return
    by_id = table.set_index("product_id", drop=False)
    ids = by_id.index.tolist()
    if st.session_state.get(KEY) not in ids:
        wanted = st.query_params.get("product")
        st.session_state[KEY] = wanted if wanted in ids else ids[0]

    def label(pid: str) -> str:
        row = by_id.loc[pid]
        extra = {
            "advice": "",
            "no_change": " · no change advised",
            "excluded": " · not merchandise",
        }.get(row["status"], " · too little data")
        return f"{row['product_name'] or pid} · {pid}{extra}"

    pid = st.selectbox("Product", ids, format_func=label, key=KEY)
    st.query_params["product"] = pid
    product = by_id.loc[pid]
    if product["status"] == "no_change":
        st.info(
            f"**No price change advised** for {fmt.md_escape(product['product_name'] or pid)}: "
            f"{fmt.md_escape(product['note'])}",
            icon=":material/block:",
        )
        return
    if product["status"] == "excluded":
        st.info(fmt.md_escape(product["note"]), icon=":material/block:")
        return
    if product["status"] != "advice":
        st.info(
            f"**Too little data for a price curve** for {fmt.md_escape(product['product_name'])}: "
            f"{fmt.md_escape(product['note'])}",
            icon=":material/data_alert:",
        )
        return
    curve, problem = ui.attempt(imports_ui.curve, ui.warehouse(), name, pid)
    if problem is not None:
        imports_ui.banner(problem)
        return
    if curve.empty:
        st.info("No stored curve for this product: it appears after the next training.")
        return
    seen, problem = ui.attempt(imports_ui.observed, ui.warehouse(), name, pid)
    render_curve(pid, product, curve, stored.evaluation, seen if problem is None else None)


def render_curve(
    pid: str, product: pd.Series, curve: pd.DataFrame, ev, seen: pd.DataFrame | None
) -> None:
    base, best = float(product["base_price"]), float(product["best_price"])
    steps = slider_prices(curve, [base, best])
    key = f"import_price_{pid}"
    if st.session_state.get(key) not in steps:
        st.session_state[key] = min(steps, key=lambda s: abs(s - base))
    price = st.select_slider(
        f"Price ({fmt.currency_symbol()})", options=steps, key=key,
        format_func=lambda x: fmt.money(x, exact=True) + (" · base" if x == round(base, 2)
        else "") + (" · best" if x == round(best, 2) else ""),
        help="the range of the stored curve: the prices this product was sold at",
    )  # fmt: skip
    units, revenue = data.units_and_revenue_at(curve, float(price))
    base_units, base_revenue = data.units_and_revenue_at(curve, base)
    best_units, best_revenue = data.units_and_revenue_at(curve, best)

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
        f"{fmt.money(base, exact=True)} (the median price paid)",
    )  # fmt: skip
    c3.metric(
        "Best price", fmt.money(best, exact=True),
        f"{fmt.change_pct(best, base):+.1f} % vs base", delta_color="off", border=True,
        help=f"{best_units:.2f} units and {fmt.money(best_revenue, exact=True)} revenue per day",
    )  # fmt: skip

    units_fig, revenue_fig = price_charts.daily_curve_figures(
        curve, best_price=best, marks={"base": base, "slider": float(price)}, observed=seen
    )
    g1, g2 = st.columns(2)
    g1.plotly_chart(units_fig, key="import_units_curve")
    g2.plotly_chart(revenue_fig, key="import_revenue_curve")
    evidence = (
        f"**Stored curve, interpolated** — {len(curve)} prices from the model"
        + (f" `{ev['model']}` v{int(ev['model_version'])}, trained {fmt.ago(ev['trained_at'])}"
           if ev is not None else "")
        + f". Evidence: {int(product['sale_hours']):,} hours with a sale at "
        f"{int(product['price_points'])} different prices. {fmt.md_escape(str(product['note'] or '').rstrip('.'))}."
        " Grey points: the model's own prediction at each price; the line: the straight demand"
        " line fitted to them, which the slider and the advice read (the model's points step"
        " where its trees split). Coloured points: what this product sold, per day, on the days"
        " it was offered at each price (bigger: more days); the price offered on a day is the"
        " median unit price of its small lines, so a bulk tier is no price change."
        " Vertical lines: base price (dashed), the slider (red)."
    )  # fmt: skip
    st.caption(evidence)
    st.caption(elasticity_line(product))
    if product.get("objective") == "profit":
        st.caption(
            f"**Maximizes profit**: unit cost {fmt.money(float(product['unit_cost']), exact=True)}"
            f"; {fmt.money(float(product['profit_per_day_at_best']), exact=True)} profit per day "
            "at the best price (the revenue cards above are before costs)."
        )
    bound = product.get("guardrail")
    st.caption(
        f"**Guardrail**: {fmt.md_escape(str(bound))}" + (
            " (the best price moved as far as the shop's guardrails allow)"
            if bound not in (None, "none") and pd.notna(bound) else
            " (the best price is the curve's own, inside every guardrail)"
        )
    )  # fmt: skip


def elasticity_line(product: pd.Series) -> str:
    """The product's own elasticity with its 90 % interval: what the advice rests on."""
    e, lo, hi = (product[c] for c in ("elasticity", "elasticity_low", "elasticity_high"))
    return (
        f"**Elasticity {e:.2f}** (90 % interval {lo:.2f} to {hi:.2f}): a 1 % higher price "
        f"changes units sold by about {e:.2f} %, estimated from this product's own days at "
        "different offered prices, controlling for the week and the weekday."
    )
