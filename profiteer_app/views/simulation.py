"""Price simulation: what the model predicts at a price, and the revenue-maximizing price.

The product's typical hour in the chosen time-of-day bucket (from the metric tables) plus the
slider's price make the model's input; one prediction answers the slider, and one batch
prediction over the whole price range draws the revenue and purchases curves.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from profiteer_app import charts, ui
from profiteer_app import features as feat
from profiteer_app import formatting as fmt
from profiteer_pipeline import pricing


def _nice_step(span: float) -> float:
    """About 50 slider steps over the range, on a 1-2-5 scale (cents at least)."""
    raw = max(span / 50, 0.01)
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _set_price(key: str, value: float) -> None:
    st.session_state[key] = value


def render() -> None:
    st.title("Price simulation")

    products = ui.catalog_or_notice()
    if products is None:
        return

    by_id = products.set_index("product_id", drop=False)
    ids = by_id.index.tolist()

    # the product: from the catalog page (session state), a shared link (?product=), or the first
    if st.session_state.get("product") not in ids:
        wanted = st.query_params.get("product")
        st.session_state["product"] = wanted if wanted in ids else ids[0]

    def label(pid: str) -> str:
        row = by_id.loc[pid]
        return f"{row['product_name']} · {pid} · {row['category']}"

    left, right = st.columns([3, 2])
    pid = left.selectbox("Product", ids, format_func=label, key="product")
    st.query_params["product"] = pid  # the URL names the product, so it can be shared
    product = by_id.loc[pid]

    buckets, problem = ui.attempt(ui.buckets, ui.warehouse(), pid)
    if problem is not None:
        ui.banner(problem)
        return
    present = buckets["time_of_day_bucket"].tolist() if not buckets.empty else []
    options = [b for b in feat.ordered_buckets(present) if b in present] or feat.ordered_buckets()
    if st.session_state.get("bucket") not in options:
        now_bucket = feat.current_bucket()
        st.session_state["bucket"] = now_bucket if now_bucket in options else options[0]
    bucket = right.segmented_control(
        "Time of day (UTC)", options, key="bucket", help="Overnight 22-06, Morning 06-12, "
        "Afternoon 12-18, Evening 18-22 (UTC hours)",
    )  # fmt: skip
    bucket = bucket or st.session_state.get("bucket") or options[0]

    lo, hi, base = (
        float(product["min_price"]),
        float(product["max_price"]),
        float(product["base_price"]),
    )
    step = _nice_step(hi - lo)
    price_key = f"price_{pid}"

    if price_key not in st.session_state:  # each product's slider starts at its base price
        st.session_state[price_key] = base
    price = st.slider(
        f"Price ({fmt.currency_symbol()})",
        min_value=lo,
        max_value=hi,
        step=step,
        key=price_key,
        format="%.2f",
        help=f"Allowed range {fmt.money(lo, exact=True)} to {fmt.money(hi, exact=True)}; "
        f"base price {fmt.money(base, exact=True)}",
    )

    history = buckets[buckets["time_of_day_bucket"] == bucket]
    if history.empty:
        st.info(
            f"No {bucket.lower()} history for {fmt.md_escape(product['product_name'])} yet: the model's inputs (its "
            "typical views and cart adds in that part of the day) come from the sales metrics."
        )
        return
    inputs = history.iloc[0].to_dict()
    avg_purchases = float(inputs["avg_purchases"])

    # --- the model's state first: a training or missing model is a banner, not an error ---------
    predictor, problem = ui.attempt(ui.predictor)
    status = None
    if problem is None:
        status, problem = ui.attempt(ui.model_status, predictor)
    if problem is None and (not_ready := status.problem()) is not None:
        problem = not_ready

    c1, c2, c3 = st.columns(3)
    c3.metric(
        f"Historical purchases/h, {bucket.lower()}",
        f"{avg_purchases:.1f}",
        help=f"per hour over {int(inputs['hours']):,} {bucket.lower()} hours at an average price of "
        f"{fmt.money(inputs['avg_price'], exact=True)}",
        border=True,
    )

    if problem is not None:
        ui.banner(problem, "— predictions are unavailable")
        c1.metric("Predicted purchases/h", "–", border=True)
        c2.metric("Predicted revenue/h", "–", border=True)
        return

    # --- the slider's prediction (one round trip) ------------------------------------------------
    row = feat.feature_rows(product, inputs, [price])
    predicted, problem = ui.attempt(
        ui.predict,
        predictor,
        status.version,
        row,
        spinner="Asking the model… (after a quiet spell MindsDB takes ~20 s to start its worker)",
    )
    if problem is not None:
        ui.banner(problem)
        return
    purchases = float(predicted[0])
    c1.metric(
        f"Predicted purchases/h at {fmt.money(price, exact=True)}",
        f"{purchases:.1f}",
        fmt.signed_percent(fmt.change_pct(purchases, avg_purchases)),
        help=f"change against the historical {bucket.lower()} average ({avg_purchases:.1f}/h)",
        border=True,
    )
    c2.metric(
        "Predicted revenue/h",
        fmt.money(price * purchases),
        fmt.signed_percent(
            fmt.change_pct(price * purchases, avg_purchases * float(inputs["avg_price"]))
        ),
        help="price × predicted purchases, against the historical average revenue per hour",
        border=True,
    )

    # --- the curve: one batch prediction across the range ----------------------------------------
    grid = pricing.price_grid(lo, hi, pricing.DEFAULT_POINTS, include=base)
    rows = feat.feature_rows(product, inputs, grid)
    values, problem = ui.attempt(
        ui.predict, predictor, status.version, rows, spinner="Predicting across the price range…"
    )
    if problem is not None:
        ui.banner(problem, "— the revenue curve is unavailable")
        return
    curve = pricing.revenue_curve(grid, pd.Series(values).to_numpy())
    best = pricing.recommend(curve, base)

    st.subheader("Revenue-maximizing price")
    b1, b2, b3 = st.columns([1, 1, 1])
    b1.metric(
        "Best price",
        fmt.money(best.best_price, exact=True),
        f"{fmt.change_pct(best.best_price, base):+.1f} % vs base" if best.best_price != base else
        "the base price",
        delta_color="off",
        border=True,
    )  # fmt: skip
    gain_pct = fmt.signed_percent(best.gain_pct)
    b2.metric(
        "Expected gain/h vs base price",
        fmt.money(best.gain),
        gain_pct,
        help=f"{fmt.money(best.best_revenue, exact=True)}/h at the best price against "
        f"{fmt.money(best.base_revenue, exact=True)}/h at the base price "
        f"{fmt.money(base, exact=True)}",
        border=True,
    )
    b3.metric(
        "Purchases/h at the best price",
        f"{best.best_purchases:.1f}",
        fmt.signed_percent(fmt.change_pct(best.best_purchases, best.base_purchases)),
        help="against the predicted purchases at the base price",
        border=True,
    )
    b1.button(
        "Set the slider to the best price",
        on_click=_set_price,
        args=(price_key, min(max(best.best_price, lo), hi)),
        icon=":material/target:",
        disabled=abs(best.best_price - price) < 0.005,
    )

    g1, g2 = st.columns(2)
    g1.plotly_chart(
        charts.revenue_figure(
            curve,
            best_price=best.best_price,
            best_revenue=best.best_revenue,
            base_price=base,
            base_revenue=best.base_revenue,
            current_price=price,
        ),
        key="revenue_curve",
    )
    g2.plotly_chart(charts.purchases_figure(curve, current_price=price), key="purchases_curve")
    st.caption(
        f"{len(curve)} prices from {fmt.money(lo, exact=True)} to {fmt.money(hi, exact=True)}, "
        f"predicted in one batch by `{status.name}` v{status.version}; the inputs are "
        f"{fmt.md_escape(product['product_name'])}'s average {bucket.lower()} hour "
        f"({fmt.count(inputs['avg_views'])} views, {inputs['avg_cart_adds']:.0f} cart adds)."
    )
    with st.expander("Model inputs"):
        st.dataframe(
            rows.assign(predicted_purchases=curve["purchases"].to_numpy()), hide_index=True
        )


render()
