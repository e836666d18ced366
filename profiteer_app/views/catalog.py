"""Catalog: every product by category, with its latest-day revenue and rating, its current price
and the recommended one with the expected gain (from the stored recommendations); opens its
simulation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import source, ui
from profiteer_app.images import picture_html
from profiteer_app.imported import catalog as imported_catalog

CARDS_PER_ROW = 5


def render() -> None:
    st.title("Catalog")

    products = ui.catalog_or_notice()
    if products is None:
        return

    advice = per_product(products)
    latest_day = products["latest_day"].dropna().max()
    if latest_day == latest_day and latest_day is not None:
        st.caption(
            f"{len(products)} products in {products['category'].nunique()} categories. "
            f"Revenue is for the latest day, {latest_day:%Y-%m-%d} (UTC). "
            "Choose a product to simulate its price."
        )

    for category, group in products.groupby("category", sort=True):
        total = group["latest_day_revenue"].sum(min_count=1)
        st.subheader(fmt.md_escape(category))
        st.caption(f"{len(group)} products · {fmt.money(total)} latest-day revenue")
        rows = [group.iloc[i : i + CARDS_PER_ROW] for i in range(0, len(group), CARDS_PER_ROW)]
        for row in rows:
            for col, (_, p) in zip(st.columns(CARDS_PER_ROW), row.iterrows(), strict=False):
                with col.container(border=True, height="stretch", vertical_alignment="distribute"):
                    st.markdown(
                        picture_html(p["product_name"], p["category"], p["product_image"]),
                        unsafe_allow_html=True,
                    )
                    st.markdown(f"**{fmt.md_escape(p['product_name'])}**")
                    rating = p["avg_rating"]
                    stars = (
                        f":{fmt.rating_color(rating)}[★ {rating:.1f}]"
                        if rating == rating
                        else "no rating"
                    )
                    revenue = p["latest_day_revenue"]
                    st.markdown(
                        f"{fmt.code(p['product_id'])} · {stars}  \n"
                        f"{fmt.money(revenue) if revenue == revenue else 'no sales yet'} latest day"
                    )
                    st.markdown(price_line(advice.get(p["product_id"])))
                    if st.button(
                        "Simulate price",
                        key=f"simulate_{p['product_id']}",
                        icon=":material/tune:",
                        width="stretch",
                    ):
                        st.session_state["product"] = p["product_id"]
                        st.switch_page(
                            ui.SIMULATION_PAGE, query_params={"product": p["product_id"]}
                        )


def per_product(products: pd.DataFrame) -> dict[str, dict]:
    """product_id -> its current price and its best recommended change (the time of day with
    the largest confident gain per day, and the total over the day); {} when none are stored."""
    stored, problem = ui.attempt(ui.recommendations, ui.warehouse())
    if problem is not None or stored.table.empty:
        return {}
    out: dict[str, dict] = {}
    for pid, g in stored.table.groupby("product_id"):
        act = g[g["confidence"].isin(["high", "medium"])]
        top = act.loc[act["gain_per_day"].idxmax()] if not act.empty else None
        out[pid] = {
            "current": float(g["current_price"].iloc[0]),
            "top": top,
            "gain_day": float(act["gain_per_day"].sum()),
            "buckets": len(act),
        }
    return out


def price_line(info: dict | None) -> str:
    if info is None:
        return "no recommendation yet"
    line = f"now {fmt.money(info['current'], exact=True)}"
    top = info["top"]
    if top is None:
        return line + " · :gray[keep]"
    # the price and the gain of the same time of day; the day's total only beside it
    line += (
        f"  \n:green[→ {fmt.money(top['recommended_price'], exact=True)}] "
        f"{top['time_of_day_bucket'].lower()} · :green[+{fmt.money(top['gain_per_day'])}/day]"
    )
    if info["buckets"] > 1:
        line += f"  \n:gray[+{fmt.money(info['gain_day'])}/day over {info['buckets']} times of day]"
    return line


if (chosen := source.current()).is_import:  # an imported order export
    imported_catalog.render(chosen.name)
else:
    render()
