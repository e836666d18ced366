"""The sidebar's source switch: the simulated shop, or one of the imported order exports, each a
`Source` (profiteer_pipeline.sources.base) whose capabilities the pages ask.

The choice lives in `st.session_state["source"]` (the widget's key, rendered by Home.py on every
page, so it persists across pages) and in the URL as `?source=<name>`, so a link opens an import.
The list of imports comes from `imports_raw.imports`, newest first; without any (no table, none
yet, or no grant) the switch offers only the simulated shop. While the warehouse is unreachable
the chosen import stays chosen (its pages show the outage) instead of falling back silently.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import ui
from profiteer_pipeline.sources import base
from profiteer_pipeline.sources.files import described
from profiteer_pipeline.sources.files.names import NAME_PATTERN

KEY = "source"
SIMULATED = ""  # the simulated shop (no query parameter)
LABEL = base.SHOP.label
#: the chosen source, for the pages of this run (set by `choose`)
_CHOSEN = "chosen_source"


def choose() -> base.Source:
    """The switch itself (call inside the sidebar): returns the chosen source."""
    found, readable = ui.imports()
    names = found["name"].tolist()
    kept = st.session_state.get(KEY) or st.query_params.get(KEY)
    if not readable and kept and NAME_PATTERN.fullmatch(kept) and kept not in names:
        names.append(kept)  # a warehouse outage keeps the choice; its pages show the outage
    options = [SIMULATED, *names]
    by_name = found.set_index("name") if not found.empty else pd.DataFrame()
    if st.session_state.get(KEY) not in options:  # first run, or the chosen import is gone
        wanted = st.query_params.get(KEY, SIMULATED)
        st.session_state[KEY] = wanted if wanted in options else SIMULATED

    def label(option: str) -> str:
        if option == SIMULATED:
            return LABEL
        if option not in by_name.index:
            return f"Import: {option}"
        return f"Import: {option} · {by_name.loc[option, 'file_name']}"  # no age: it must not
        # change between runs (a changed label is a new widget to Streamlit's tests)

    chosen = st.selectbox(
        "Data source",
        options,
        key=KEY,
        format_func=label,
        help="The simulated shop, or an order export brought in with `profiteer import FILE` "
        "(newest first)."
        + ("" if names else " No import yet.")
        + "".join(
            f"  \n{fmt.code(n)}: {fmt.code(by_name.loc[n, 'file_name'])}, imported "
            f"{fmt.utc_label(by_name.loc[n, 'imported_at'])}"
            for n in names
            if n in by_name.index
        ),
    )
    if chosen:
        st.query_params[KEY] = chosen
    elif KEY in st.query_params:
        del st.query_params[KEY]
    if chosen and chosen in by_name.index:
        row = by_name.loc[chosen]
        picked = described.source(chosen, row["file_name"], _summary(row))
    elif chosen:  # kept through an outage: its pages say so
        picked = described.source(chosen, None, {})
    else:
        picked = base.SHOP
    fmt.use_currency(picked.capabilities.currency)
    st.session_state[_CHOSEN] = picked
    return picked


def _summary(row: pd.Series) -> dict:
    """What the list holds of an import's summary: its columns and currency."""
    columns = row.get("columns")
    currency = row.get("currency")
    return {
        "columns": columns if isinstance(columns, dict) else {},
        "currency": currency if isinstance(currency, str) else None,
    }


def current() -> base.Source:
    """The source the pages show (after `choose` ran; the shop before)."""
    return st.session_state.get(_CHOSEN, base.SHOP)
