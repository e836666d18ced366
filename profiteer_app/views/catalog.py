"""Catalog: every product of the chosen source in one searchable table, with its prices, its sales
(the metric tables' `product_stats`) and what its advice says (the contract, `price_advice`);
where the source has a catalog with pictures and ratings (the simulated shop), its products also
as cards by category, each with the recommended change by time of day. A product opens its
price simulation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import catalog_data, source, ui
from profiteer_app import formatting as fmt
from profiteer_app.images import picture_html
from profiteer_pipeline.sources.base import Source

CARDS_PER_ROW = 5
STATUS = {"advice": "change", "no_change": "keep", "too_little_data": "too little data",
          "excluded": "not merchandise"}  # fmt: skip


def render(chosen: Source) -> None:
    st.title("Catalog")
    version = ui.imported_at(chosen.name) if chosen.is_import else None
    products = ui.loaded(
        ui.catalog, ui.warehouse(), chosen, version, spinner="Loading the catalog…",
        empty="No products yet: they appear with the first sales in the warehouse.",
    )  # fmt: skip
    if products is None:
        return
    table(products, chosen)
    if chosen.capabilities.catalog:
        cards(chosen)


def table(products: pd.DataFrame, chosen: Source) -> None:
    """Every product, searchable by name or SKU and filtered by category."""
    has_category = products["category"].notna().any()
    left, right = st.columns([3, 2])
    text = left.text_input(
        "Search", key="catalog_search", placeholder="name or SKU", icon=":material/search:"
    )
    categories = None
    if has_category:
        options = sorted(products["category"].dropna().unique())
        picked = right.multiselect("Category", options, key="catalog_categories")
        categories = picked or None
    shown = catalog_data.search(products, text, categories)
    bounds = (
        "Min and max price: the catalog's bounds"
        if chosen.capabilities.catalog
        else "Base price: the median price paid; the range: the lowest and highest prices paid"
    )
    st.caption(
        f"{len(shown):,} of {len(products):,} products"
        + (f" in {products['category'].nunique()} categories" if has_category else "")
        + f", by revenue. {bounds}. Units and revenue over all the source's sales; advice from "
        "the latest training (Recommendations says why). Times are UTC."
    )
    columns = [c for c in products.columns if (has_category or c != "category") and c != "note"]
    money = ui.money_column_format()
    paid = "" if chosen.capabilities.catalog else " paid"
    st.dataframe(
        ui.dashed(shown[columns].assign(status=shown["status"].map(STATUS))),
        hide_index=True,
        key="catalog",
        column_config={
            **ui.product_columns(),
            "min_price": st.column_config.NumberColumn(
                "Lowest paid" if paid else "Min price", format=money
            ),
            "max_price": st.column_config.NumberColumn(
                "Highest paid" if paid else "Max price", format=money
            ),
            "units": st.column_config.NumberColumn("Units", format="localized"),
            "revenue": st.column_config.NumberColumn("Revenue", format=money),
            "latest_day_revenue": st.column_config.NumberColumn("Latest day", format=money),
            "latest_hour": st.column_config.DatetimeColumn("Last sale", format="YYYY-MM-DD HH:mm"),
            "current_price": st.column_config.NumberColumn("Today's price", format=money),
            "status": st.column_config.TextColumn("Advice"),
            "best_price": st.column_config.NumberColumn("Best price", format=money),
            "change_pct": st.column_config.NumberColumn("Change", format="%+.1f %%"),
        },
    )  # fmt: skip
    if not shown.empty:
        ui.simulation_picker(chosen, shown, key="catalog_pick", label="Simulate price")


def cards(chosen: Source) -> None:
    """The catalog's products as cards by category: picture, rating, the latest day's revenue,
    today's price and the recommended change by time of day."""
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
                        ui.open_simulation(chosen, p["product_id"])


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


render(source.current())
