"""Recommendations: which prices to change today, and what each change earns.

For every source: how its model did out of sample and the per-product advice (`advice_view`, from
the source's `model_evaluation` and `price_advice`). Where a source prices by time of day (the
simulated shop), its advice per product × time of day follows (`analytics.price_recommendations`):
filter by category and time of day, sort, download as CSV, open a row's simulation. All of it is
stored after each training, so the page never calls the model.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from profiteer_app import advice_data, advice_view, source, ui
from profiteer_app import features as feat
from profiteer_app import formatting as fmt
from profiteer_app import recommendation_data as prices
from profiteer_pipeline.sources.base import Source

MARKS = {
    "high": "●●● high",
    "medium": "●●○ medium",
    "no change": "○○○ no change",
    "unrated": "? unrated",
}
SORTS = {
    "Gain per day": ("gain_per_day", False),
    "Gain %": ("gain_pct", False),
    "Price change %": ("change_pct", True),
    "Product": ("product_name", True),
    "Category": ("category", True),
}
COLUMNS = ["product_name", "product_id", "category", "time_of_day_bucket", "current_price",
           "recommended_price", "base_price", "change_pct", "gain_per_hour", "gain_per_day",
           "band_per_day", "gain_pct", "mark", "guardrail", "objective", "note"]  # fmt: skip


def table(recs: pd.DataFrame, categories, buckets, only_changes: bool, sort: str, asc: bool):
    """The filtered, sorted rows as shown (and downloaded)."""
    df = recs[recs["category"].isin(categories) & recs["time_of_day_bucket"].isin(buckets)]
    if only_changes:
        df = df[df["confidence"].isin(["high", "medium"])]
    df = df.assign(
        change_pct=(df["recommended_price"] / df["current_price"] - 1) * 100,
        mark=df["confidence"].map(MARKS).fillna(df["confidence"]),
    )
    # a "no change" row gains nothing: its recommended price is the current one
    quiet = df["confidence"] == "no change"
    df.loc[quiet, ["gain_per_hour", "gain_per_day", "gain_pct"]] = 0.0
    column, default_asc = SORTS[sort]
    return df.sort_values(column, ascending=default_asc if asc is None else asc, kind="stable")[
        COLUMNS
    ].reset_index(drop=True)


def summary(df: pd.DataFrame) -> tuple[float, float, int]:
    """Applying every recommended change: gain per day, its ± band (independent errors), count."""
    act = df[df["mark"].isin([MARKS["high"], MARKS["medium"]])]
    band = math.sqrt(float((act["band_per_day"].fillna(0) ** 2).sum()))
    return float(act["gain_per_day"].sum()), band, len(act)


def render(chosen: Source) -> None:
    st.title("Price recommendations")
    stored = ui.loaded(ui.advice, ui.warehouse(), chosen, spinner="Loading…")  # None: a notice
    if stored is None:
        return
    advice_view.evidence(stored, chosen)
    advice_view.products(stored, chosen)
    if chosen.capabilities.time_of_day:
        by_time_of_day(chosen, advice_data.model_loses(stored.evaluation, chosen))


def by_time_of_day(chosen: Source, model_loses: str | None) -> None:
    """The source's best price per product × time of day, with its confidence and gain; none
    advised where the model loses to its baseline (`model_loses` says why)."""
    st.subheader("By time of day")
    stored = ui.loaded(ui.recommendations, ui.warehouse(), spinner="Loading…")
    if stored is None:
        return
    recs, run = stored.table, stored.run
    if recs.empty:
        st.info("No recommendations stored yet: they appear after the model's next training.")
        return

    f1, f2, f3, f4 = st.columns([3, 3, 2, 2])
    all_cats = sorted(recs["category"].unique())
    all_buckets = [b for b in feat.ordered_buckets(recs["time_of_day_bucket"].unique())
                   if b in set(recs["time_of_day_bucket"])]  # fmt: skip
    cats = f1.multiselect("Category", all_cats, default=all_cats, key="rec_categories")
    buckets = f2.multiselect("Time of day", all_buckets, default=all_buckets, key="rec_buckets")
    sort = f3.selectbox("Sort by", list(SORTS), key="rec_sort")
    order = f4.radio("Order", ["default", "ascending", "descending"], horizontal=True,
                     key="rec_order")  # fmt: skip
    only = st.toggle("Only recommended changes", value=False, key="rec_only_changes")
    asc = None if order == "default" else order == "ascending"
    shown = table(recs, cats, buckets, only, sort, asc)
    gain, band, n = summary(shown)

    s1, s2, s3 = st.columns(3)
    s1.metric(
        "Applying all recommendations", f"{fmt.signed_money(gain)}/day",
        f"± {fmt.money(band)}", delta_color="off", delta_arrow="off", border=True,
        help="the expected change of revenue (profit where a unit cost is known) per day from "
        "every recommended change in the table, ± the model's held-out error (independent "
        "per product and time of day)",
    )  # fmt: skip
    s2.metric("Changes recommended", f"{n} of {len(shown)}", border=True,
              help="rows whose gain exceeds the model's error band")  # fmt: skip
    r2 = prices.r2_phrase(run)
    s3.metric(
        "Model, latest 24 h held out",
        f"R² {float(run['held_out_r2']):.2f}" if r2 else "not evaluated yet",
        help=f"{r2 or 'no held-out day yet'}. {prices.R2_EXPLAINED} Against the baselines a "
        "forecaster would use: the evaluation above.",
        border=True,
    )
    if model_loses is not None:
        st.warning(
            f"**No price change is advised.** {fmt.md_escape(model_loses)} Every product keeps "
            "its current price; the curves below are the model's, for reference only.",
            icon=":material/block:",
        )
    objective = set(recs["objective"])
    st.caption(
        ("Maximizing **revenue**: no unit costs are known. " if objective == {"revenue"} else
         "Maximizing **profit** where a unit cost is known, revenue elsewhere. ")
        + f"Computed {fmt.ago(run['computed_at']) if run is not None else '–'} from model "
        f"v{run['model_version'] if run is not None else '–'}; per day = per hour × the bucket's "
        "hours (Overnight 8, Morning 6, Afternoon 6, Evening 4). Each best price is read off the "
        "curve's demand line within the product's bounds and the shop's guardrails, as the best "
        "price per product is; Guardrail names the one that bound it. Confidence: ●●● the gain "
        "is over twice the error band, ●●○ over it, ○○○ no change (keep the current price: the "
        "note says why, such as a gain within the band or no evidence in the product's own "
        "elasticity)."
    )  # fmt: skip

    money = ui.money_column_format()
    event = st.dataframe(
        shown,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="rec_table",
        column_config={
            "product_name": st.column_config.TextColumn("Product", width="medium"),
            "product_id": st.column_config.TextColumn("Id", width="small"),
            "category": "Category",
            "time_of_day_bucket": "Time of day",
            "current_price": st.column_config.NumberColumn("Current", format=money),
            "recommended_price": st.column_config.NumberColumn("Recommended", format=money),
            "base_price": st.column_config.NumberColumn("Base", format=money),
            "change_pct": st.column_config.NumberColumn("Price change", format="%+.1f %%"),
            "gain_per_hour": st.column_config.NumberColumn("Gain/h", format=money),
            "gain_per_day": st.column_config.NumberColumn("Gain/day", format=money),
            "band_per_day": st.column_config.NumberColumn("± /day", format=money),
            "gain_pct": st.column_config.NumberColumn("Gain %", format="%+.1f %%"),
            "mark": st.column_config.TextColumn("Confidence"),
            "guardrail": st.column_config.TextColumn(
                "Guardrail", help="the shop's guardrail that bound the best price, if any"
            ),
            "objective": st.column_config.TextColumn("Maximizes", width="small"),
            "note": st.column_config.TextColumn("Why no change", width="large"),
        },
    )
    selected = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if selected:
        row = shown.iloc[selected[0]]
        ui.open_simulation(chosen, str(row["product_id"]), str(row["time_of_day_bucket"]))

    d1, d2, d3 = st.columns([2, 3, 2])
    d1.download_button(
        "Download CSV", shown.to_csv(index=False).encode(), file_name="price_recommendations.csv",
        mime="text/csv", icon=":material/download:", key="rec_csv",
    )  # fmt: skip
    if not shown.empty:
        labels = {i: f"{r.product_name} · {r.product_id} · {r.time_of_day_bucket}"
                  for i, r in shown.iterrows()}  # fmt: skip
        pick = d2.selectbox("Open the simulation of", list(labels), format_func=labels.get,
                            key="rec_pick", label_visibility="collapsed")  # fmt: skip
        if d3.button("Open simulation", icon=":material/tune:", key="rec_open"):
            ui.open_simulation(
                chosen,
                str(shown.loc[pick, "product_id"]),
                str(shown.loc[pick, "time_of_day_bucket"]),
            )
    st.caption("Click a row (its left edge) or pick one above to open its simulation.")
    stale_note(run)


def stale_note(run) -> None:
    """After the table: say so when the model has a newer version than these recommendations
    (automation recomputes them after each training; a MindsDB outage is only the sidebar's)."""
    if run is None or pd.isna(run["model_version"]):
        return
    status, problem = ui.attempt(lambda: ui.model_status(ui.predictor()))
    if (
        problem is None
        and status.ready
        and status.version
        and status.version > run["model_version"]
    ):
        st.caption(
            f":orange[The model is now v{status.version}; these recommendations come from "
            f"v{int(run['model_version'])} and are recomputed after each training.]"
        )


render(source.current())
