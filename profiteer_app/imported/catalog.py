"""Catalog of an import: every product the file sold, with its base price (the median price
paid), the range of prices paid, units, revenue and first/last sale; searchable, and a product
opens its price simulation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import imports_ui, ui

COLUMNS = ["product_name", "product_id", "category", "base_price", "min_price", "max_price",
           "units", "revenue", "first_hour", "last_hour"]  # fmt: skip


def search(products: pd.DataFrame, text: str, categories: list[str] | None) -> pd.DataFrame:
    """Products whose name or SKU contains `text` (any case), in `categories` (None: all)."""
    shown = products
    if categories is not None:
        shown = shown[shown["category"].fillna("").isin(categories)]
    text = text.strip().lower()
    if text:
        hay = shown["product_name"].fillna("").str.lower() + " " + shown["product_id"].str.lower()
        shown = shown[hay.str.contains(text, regex=False)]
    return shown


def open_simulation(name: str, product_id: str) -> None:
    st.session_state["import_product"] = product_id
    st.switch_page(ui.SIMULATION_PAGE, query_params={"source": name, "product": product_id})


def render(name: str) -> None:
    st.title("Catalog")
    products = imports_ui.products_or_notice(name)
    if products is None:
        return
    has_category = products["category"].notna().any()
    left, right = st.columns([3, 2])
    text = left.text_input(
        "Search", key="import_search", placeholder="name or SKU", icon=":material/search:"
    )
    categories = None
    if has_category:
        options = sorted(products["category"].dropna().unique())
        picked = right.multiselect("Category", options, key="import_categories")
        categories = picked or None
    shown = search(products, text, categories)
    st.caption(
        f"{len(shown):,} of {len(products):,} products"
        + (f" in {products['category'].nunique()} categories" if has_category else "")
        + ", by revenue. Base price: the median price paid; the range: the lowest and highest "
        "prices paid. Times are UTC."
    )
    columns = [c for c in COLUMNS if has_category or c != "category"]
    money = ui.money_column_format()
    st.dataframe(
        ui.dashed(shown[columns]),
        hide_index=True,
        key="import_catalog",
        column_config={
            **ui.product_columns(),
            "min_price": st.column_config.NumberColumn("Lowest paid", format=money),
            "max_price": st.column_config.NumberColumn("Highest paid", format=money),
            "units": st.column_config.NumberColumn("Units", format="localized"),
            "revenue": st.column_config.NumberColumn("Revenue", format=money),
            "first_hour": st.column_config.DatetimeColumn("First sale", format="YYYY-MM-DD HH:mm"),
            "last_hour": st.column_config.DatetimeColumn("Last sale", format="YYYY-MM-DD HH:mm"),
        },
    )
    if shown.empty:
        return
    simulation_picker(name, shown, key="import_catalog_pick", label="Simulate price")


def simulation_picker(name: str, table: pd.DataFrame, *, key: str, label: str) -> None:
    """A product of `table` to pick, and a button that opens its price simulation."""
    by_id = table.set_index("product_id")
    pick_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    pid = pick_col.selectbox(
        "Product", by_id.index.tolist(), key=key,
        format_func=lambda p: f"{by_id.loc[p, 'product_name'] or p} · {p}",
    )  # fmt: skip
    if button_col.button(label, icon=":material/tune:", width="stretch"):
        open_simulation(name, pid)
