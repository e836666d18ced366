"""Profiteer app entry point: `streamlit run profiteer_app/Home.py`.

It runs on every page: page config, the navigation, the source switch (the simulated shop or an
imported order export, profiteer_app/source.py), the chosen page, then the status in the sidebar
(the shop's data freshness and model state, or the import's file and model: `file_view`). The app
reads the chosen source's tables as the read-only role (its metric tables, its model's stored
results); MindsDB is asked only on request.
"""

from __future__ import annotations

import streamlit as st

from profiteer_app import file_view, source, ui

st.set_page_config(page_title="Profiteer", page_icon=":material/monitoring:", layout="wide")

page = st.navigation(
    [
        st.Page("views/dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True),
        st.Page("views/catalog.py", title="Catalog", icon=":material/storefront:"),
        st.Page(ui.RECOMMENDATIONS_PAGE, title="Recommendations", icon=":material/sell:"),
        st.Page(ui.SIMULATION_PAGE, title="Price simulation", icon=":material/tune:"),
    ]
)
with st.sidebar:
    st.markdown("### :material/monitoring: Profiteer")
    st.caption("Pricing intelligence for the shop")
    chosen = source.choose()
    status_box = st.container()
try:
    page.run()
except Exception as exc:  # noqa: BLE001 (the last line of defence: a banner, never a traceback)
    ui.log.exception("page %s failed", page.title)
    ui.banner(exc)
if chosen.is_import:
    file_view.sidebar_status(status_box, chosen)
else:
    ui.sidebar_status(status_box)  # after the page: a slow MindsDB never holds the page back
