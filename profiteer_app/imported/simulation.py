"""Price simulation for an imported product: the product picker over the import's stored advice,
then the per-day simulation every source shows (`daily_simulation`), with the days the product
was offered at each price as its evidence."""

from __future__ import annotations

import streamlit as st

from profiteer_app import daily_simulation as daily
from profiteer_app import formatting as fmt
from profiteer_app import imports_ui, ui
from profiteer_pipeline.sources.base import Source

KEY = "import_product"


def render(chosen: Source) -> None:
    name = chosen.name
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
    if daily.notice(product):
        return
    curve, problem = ui.attempt(imports_ui.curve, ui.warehouse(), name, pid)
    if problem is not None:
        imports_ui.banner(problem)
        return
    if curve.empty:
        st.info("No stored curve for this product: it appears after the next training.")
        return
    seen, problem = ui.attempt(imports_ui.observed, ui.warehouse(), name, pid)
    ev = stored.evaluation
    daily.section(
        product, curve, seen if problem is None else None,
        model=f" `{ev['model']}` v{int(ev['model_version'])}, trained {fmt.ago(ev['trained_at'])}"
        if ev is not None else "",
        observed="what this product sold, per day, on the days it was offered at each price "
        "(bigger: more days); the price offered on a day is the median unit price of its small "
        "lines, so a bulk tier is no price change.",
        estimated="this product's own days at different offered prices, controlling for the "
        "week and the weekday",
    )  # fmt: skip
