"""Catalog: every product by category, with its latest-day revenue and rating; opens its simulation."""

from __future__ import annotations

import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import ui
from profiteer_app.images import picture_html

CARDS_PER_ROW = 5


def render() -> None:
    st.title("Catalog")

    products = ui.catalog_or_notice()
    if products is None:
        return

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


render()
