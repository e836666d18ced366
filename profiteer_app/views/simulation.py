"""Price simulation: per day, the product's stored daily curve and advice as every source shows
them (`daily_simulation`); then, for the simulated shop's time-of-day buckets, the stored curve
of one product in one time of day, instant at any price.

The `price_recommendations` asset stores, after each training, the model's predictions over a
fine price grid (`analytics.price_curves`), their demand line (the one smoothing rule, every
source's) with the held-out error band, and the advice. This page only reads them: the slider interpolates the stored curve (no model
call), so it answers at once even when MindsDB's worker is cold or MindsDB is down. An exact
live prediction is a button at the bottom, after everything else has rendered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from profiteer_app import advice_view, source, ui
from profiteer_app import daily_simulation as daily
from profiteer_app import features as feat
from profiteer_app import formatting as fmt
from profiteer_app import predictor as pred
from profiteer_app import recommendation_data as prices
from profiteer_app import simulation_charts as price_charts
from profiteer_app.daily_simulation import slider_prices
from profiteer_pipeline import settings
from profiteer_pipeline.model import recommendations as recs
from profiteer_pipeline.pricing import advice as pa
from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.sources.base import Source


def _nearest(options: list[float], value: float) -> float:
    return min(options, key=lambda o: abs(o - value))


def _set_price(key: str, value: float) -> None:
    st.session_state[key] = value


STATUS = {"advice": "", "no_change": " · no change advised", "excluded": " · not merchandise",
          "too_little_data": " · too little data"}  # fmt: skip


def render(chosen: Source) -> None:
    st.title("Price simulation")
    stored = ui.loaded(ui.advice, ui.warehouse(), chosen, spinner="Loading…")
    if stored is None:
        return
    table = stored.table
    if table.empty:
        st.info("The model stored no products for this source.")
        return
    by_id = table.set_index("product_id", drop=False)
    ids = by_id.index.tolist()
    if st.session_state.get("product") not in ids:
        wanted = st.query_params.get("product")
        st.session_state["product"] = wanted if wanted in ids else ids[0]

    def label(pid: str) -> str:
        row = by_id.loc[pid]
        return f"{row['product_name'] or pid} · {pid}{STATUS.get(row['status'], '')}"

    left, right = st.columns([3, 2])
    pid = left.selectbox("Product", ids, format_func=label, key="product")
    st.query_params["product"] = pid
    hourly = chosen.capabilities.time_of_day
    bucket = bucket_control(right) if hourly else None
    if hourly:
        st.subheader("Per day")
    per_day(chosen, by_id.loc[pid], stored.evaluation)
    if bucket is not None:
        st.subheader("By time of day")
        by_time_of_day(pid, bucket)


def bucket_control(column) -> str:
    """The time of day to simulate (the URL's, else the current one)."""
    options = feat.ordered_buckets()
    if st.session_state.get("bucket") not in options:
        wanted = st.query_params.get("bucket")
        st.session_state["bucket"] = wanted if wanted in options else feat.current_bucket()
    bucket = column.segmented_control(
        "Time of day (UTC)", options, key="bucket", help="Overnight 22-06, Morning 06-12, "
        "Afternoon 12-18, Evening 18-22 (UTC hours)",
    ) or st.session_state.get("bucket") or options[0]  # fmt: skip
    st.query_params["bucket"] = bucket
    return bucket


def per_day(chosen: Source, product, ev) -> None:
    """The per-day simulation every source shows (`daily_simulation`), from its stored advice,
    daily curve and observations."""
    if daily.notice(product):
        return
    pid = str(product["product_id"])
    curve = ui.loaded(
        ui.daily_curve, ui.warehouse(), chosen, pid,
        empty="No stored curve for this product: it appears after the next training.",
    )  # fmt: skip
    if curve is None:
        return
    seen, problem = ui.attempt(ui.observed, ui.warehouse(), chosen, pid)
    words = advice_view.wording(chosen)
    trained = (
        f" `{ev['model']}` v{int(ev['model_version'])}, trained {fmt.ago(ev['trained_at'])}"
        if ev is not None
        else ""
    )
    daily.section(
        product, curve, seen if problem is None else None, model=trained + words.curve,
        observed=words.observed, estimated=words.estimated,
    )  # fmt: skip
    if chosen.capabilities.time_of_day:
        st.caption(
            "One price for the whole day, read off a straight demand line, as for every source; "
            "below, each time of day's own curve and best price, read off its own demand line "
            "by the same rule."
        )


def by_time_of_day(pid: str, bucket: str) -> None:
    """The stored curve of the product in one time of day (`analytics.price_curves`)."""
    products = ui.catalog_or_notice()
    if products is None:
        return
    if pid not in set(products["product_id"]):
        st.info("This product is not in the catalog.")
        return
    product = products.set_index("product_id", drop=False).loc[pid]
    stored = ui.loaded(ui.stored_curve, ui.warehouse(), pid, bucket)
    if stored is None:
        return
    if stored.empty or stored.advice is None:
        st.info(
            f"No stored curve for {fmt.md_escape(product['product_name'])} in the "
            f"{bucket.lower()} yet: it appears after the next training of the model (asset "
            "`price_recommendations`).",
            icon=":material/hourglass_empty:",
        )
        return
    render_curve(product, bucket, stored)


def render_curve(product, bucket: str, stored: prices.StoredCurve) -> None:
    curve, adv, run = stored.curve, stored.advice, stored.run
    pid = str(product["product_id"])
    lo, hi = float(adv["min_price"]), float(adv["max_price"])
    base, current = float(adv["base_price"]), float(adv["current_price"])
    p, q = curve["price"].to_numpy(), curve["purchases"].to_numpy()
    unrated = run is None or pd.isna(run["relative_error"])  # no held-out error: None or NaN
    rel_error = None if unrated else float(run["relative_error"])

    # --- the objective: revenue, or profit with a unit cost (the catalog's, or typed here) -----
    stored_cost = adv["unit_cost"] if adv["unit_cost"] == adv["unit_cost"] else None
    cost = st.number_input(
        f"Unit cost ({fmt.currency_symbol()}, optional)", min_value=0.0,
        value=float(stored_cost or 0.0), step=1.0, key=f"cost_{pid}",
        help="With a unit cost the best price maximizes profit, (price − cost) × purchases; "
        "without one, revenue.",
    ) or None  # fmt: skip
    try:  # the shop's guardrails, read as the asset reads them
        rails = guardrails.load(settings.state_dir() / guardrails.FILE_NAME)
    except guardrails.GuardrailsError as exc:
        st.error(f"The shop's guardrails cannot be used: {exc}", icon=":material/error:")
        return
    a = pa.advise(
        p, q, min_price=lo, max_price=hi, current_price=current, rails=rails, unit_cost=cost,
        rel_error=rel_error, model_purchases=curve["model_purchases"].to_numpy(),
        falls=bool(recs.bucket_falls(curve.assign(product_id=pid, bucket=bucket)).iloc[0]),
    )  # fmt: skip
    curve = curve.assign(profit=pa.value_of(p, q, cost)) if cost else curve
    column = "profit" if cost else "revenue"

    # --- the slider: even steps plus the base, current and best prices -------------------------
    steps = slider_prices(lo, hi, [base, current, a.best_price])
    key = f"price_{pid}"
    if st.session_state.get(key) not in steps:
        st.session_state[key] = _nearest(steps, float(st.session_state.get(key, current)))
    price = st.select_slider(
        f"Price ({fmt.currency_symbol()})", options=steps, key=key,
        format_func=lambda x: fmt.money(x, exact=True)
        + (" · base" if x == round(base, 2) else "") + (" · current" if x == round(current, 2)
        else "") + (" · best" if x == round(a.best_price, 2) else ""),
        help=f"Allowed range {fmt.money(lo, exact=True)} to {fmt.money(hi, exact=True)}",
    )  # fmt: skip
    at_q = float(np.interp(price, p, q))
    at_value = float(pa.value_of(price, at_q, cost))

    c1, c2, c3 = st.columns(3)
    c1.metric(
        f"Purchases/h at {fmt.money(price, exact=True)}", f"{at_q:.1f}",
        fmt.signed_percent(fmt.change_pct(at_q, a.current_purchases)),
        help="interpolated on the stored curve (no model call); change against the current "
        f"price {fmt.money(current, exact=True)}", border=True,
    )  # fmt: skip
    c2.metric(
        f"Expected {column}/h", fmt.money(at_value),
        fmt.signed_percent(fmt.change_pct(at_value, a.current_value)),
        help=f"against {fmt.money(a.current_value, exact=True)}/h at the current price",
        border=True,
    )  # fmt: skip
    e = pa.elasticity(p, q, price)
    c3.metric(
        "Price −1 %", "–" if e is None else f"{-e:+.1f} % sales",
        help="If the price drops 1 %, purchases change by this much, on the smoothed curve "
        "around the slider's price (the elasticity)", border=True,
    )  # fmt: skip

    # --- the advice -------------------------------------------------------------------------
    st.subheader(f"Best price ({'profit' if cost else 'revenue'})")
    b1, b2, b3 = st.columns(3)
    b1.metric(
        f"Best price, {bucket.lower()}", fmt.money(a.best_price, exact=True),
        f"{fmt.change_pct(a.best_price, current):+.1f} % vs current" if a.changed else "the current price",
        delta_color="off", border=True,
    )  # fmt: skip
    band = "" if a.band is None else f" (± {fmt.money(a.band)})"
    b2.metric(
        f"Expected gain/h vs current{band}", fmt.money(a.gain), fmt.signed_percent(a.gain_pct),
        help=f"{fmt.money(a.best_value, exact=True)}/h at the best price against "
        f"{fmt.money(a.current_value, exact=True)}/h at {fmt.money(current, exact=True)}; "
        "± the model's held-out error at both prices", border=True,
    )  # fmt: skip
    verdict, explained = {
        "high": ("change it", "the gain is over twice the model's error band"),
        "medium": ("change it", "the gain is over the model's error band"),
        "no change": ("keep the price", a.no_change_reason),
        "unrated": ("unrated", "no held-out error is known for this model"),
    }[a.confidence]
    b3.metric(
        "Confidence", a.confidence, verdict, delta_color="off", delta_arrow="off",
        help=explained, border=True,
    )  # fmt: skip
    b1.button(
        "Set the slider to the best price", on_click=_set_price, args=(key, a.best_price),
        icon=":material/target:", disabled=abs(a.best_price - price) < 0.005,
    )  # fmt: skip
    st.caption(
        f"Maximizing **{'profit' if cost else 'revenue'}**"
        + (f" with a unit cost of {fmt.money(cost, exact=True)}." if cost else
           " (no unit cost known: enter one above to maximize profit).")
        + " The best price lies inside the product's bounds and the shop's guardrails "
        f"({rails.describe()})"
        + ("." if a.guardrail == guardrails.NONE else f"; it is bound by the {a.guardrail}.")
    )  # fmt: skip

    marks = {"base": base, "current": current, "slider": float(price)}
    g1, g2 = st.columns(2)
    g1.plotly_chart(price_charts.demand_figure(curve, stored.observed, marks), key="demand_curve")
    g2.plotly_chart(
        price_charts.value_figure(
            curve, column, best_price=a.best_price, best_value=a.best_value, marks=marks
        ),
        key="value_curve",
    )
    r2 = prices.r2_phrase(run)
    computed = run["computed_at"] if run is not None else None
    st.caption(
        f"**Stored curve, interpolated** — {len(curve)} prices predicted in one batch by "
        f"`{run['model'] if run is not None else 'the model'}` v{adv['model_version']} "
        f"{fmt.ago(computed)} ({fmt.utc_label(computed)}); no model call while you move the "
        f"slider. Grey dots: the model at each price; green: its demand line (the model's "
        "own points where they do not fall with the price)"
        + ("" if rel_error is None else f", band ± {rel_error:.0%} (held-out RMSE ÷ mean)")
        + f"; the smoothing moved the model's points by up to {a.smoothing_error:.1f} purchases/h"
        + (" — more than twice the model's error: the model's own curve bends away from its "
           "straight line here, so the advice is at most medium confidence." if a.jagged else ".")
        + f" Blue: {int(stored.observed['hours'].sum()) if not stored.observed.empty else 0} "
        f"observed {bucket.lower()} hours, averaged per price bin."
        + " Vertical lines: base (dashed), current (dotted), the slider (red)."
        + (f" Model: {r2}." if r2 else "")
    )  # fmt: skip
    live_prediction(product, bucket, float(price), adv)


def live_prediction(product, bucket: str, price: float, adv) -> None:
    """An exact prediction from the live model, on request only: it never holds the page."""
    key = f"live_{product['product_id']}_{bucket}_{price:.2f}"
    status, problem = ui.attempt(lambda: ui.model_status(ui.predictor()))  # after the curve
    if problem is not None or not status.ready:
        why = (
            "MindsDB is unreachable"
            if isinstance(problem, pred.MindsDBUnavailable)
            else f"the model is not ready ({status.status if status else 'unavailable'})"
        )
        st.caption(
            f":orange[{why} right now: the curve and the best price above are the "
            "stored ones, computed after the last training; a live prediction may fail.]"
        )
    if st.button("Ask the model now (exact, live)", icon=":material/bolt:", key="live_button"):
        buckets, problem = ui.attempt(ui.buckets, ui.warehouse(), str(product["product_id"]))
        history = None if problem else buckets[buckets["time_of_day_bucket"] == bucket]
        if problem is None and (history is None or history.empty):
            problem = RuntimeError(f"no {bucket.lower()} history for this product")
        if problem is None:
            rows = feat.feature_rows(product, history.iloc[0].to_dict(), [price])
            predicted, problem = ui.attempt(
                ui.predict, ui.predictor(), int(adv["model_version"] or 0), rows,
                spinner="Asking MindsDB… (after 2 idle minutes its worker takes ~20 s to start)",
            )  # fmt: skip
        if problem is not None:
            ui.banner(problem, "— the stored curve above still holds")
        else:
            st.session_state[key] = float(predicted[0])
    if key in st.session_state:
        st.success(
            f"The live model predicts **{st.session_state[key]:.1f} purchases/h** at "
            f"{fmt.money(price, exact=True)} in a typical {bucket.lower()} hour.",
            icon=":material/bolt:",
        )


render(source.current())
