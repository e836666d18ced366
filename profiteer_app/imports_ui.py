"""Streamlit glue for an imported order export: cached loaders, the model's notice, the status.

The loaders are keyed by the warehouse target and the import's name. An import's own tables
change only when it is imported again, so they are also keyed by its `imported_at` (from the
list, refreshed every half minute) and kept for an hour; the model's tables change after each
training, so they keep ui's short TTL.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import formatting as fmt
from profiteer_app import imports_data as data
from profiteer_app import ui
from profiteer_app import warehouse as wh


@st.cache_data(ttl=ui.DATA_TTL_S, show_spinner=False)
def _imports(target: wh.Warehouse) -> pd.DataFrame:
    return data.load_imports(target)


def listed() -> tuple[pd.DataFrame, bool]:
    """Every import, newest first, and whether the list could be read at all (False: the
    warehouse is unreachable, and the pages say so)."""
    found, problem = ui.attempt(_imports, ui.warehouse())
    return (data.no_imports(), False) if problem is not None else (found, True)


def imports() -> pd.DataFrame:
    return listed()[0]


IMPORT_TTL_S = 3600  # keyed by imported_at too: a re-import is a new key at once


def imported_at(name: str):
    """When the import `name` was stored (the cache key of its tables), or None."""
    found = imports()
    rows = found[found["name"] == name]
    return None if rows.empty else rows["imported_at"].iloc[0]


@st.cache_data(ttl=IMPORT_TTL_S, show_spinner=False, max_entries=20)
def _overview(target: wh.Warehouse, name: str, version) -> data.Overview:
    return data.load_overview(target, name)


@st.cache_data(ttl=IMPORT_TTL_S, show_spinner=False, max_entries=20)
def _products(target: wh.Warehouse, name: str, version) -> pd.DataFrame:
    return data.load_products(target, name)


def overview(target: wh.Warehouse, name: str) -> data.Overview:
    return _overview(target, name, imported_at(name))


def products(target: wh.Warehouse, name: str) -> pd.DataFrame:
    return _products(target, name, imported_at(name))


@st.cache_data(ttl=ui.DATA_TTL_S, show_spinner=False)
def advice(target: wh.Warehouse, name: str) -> data.Advice:
    return data.load_advice(target, name)


@st.cache_data(ttl=ui.DATA_TTL_S, show_spinner=False)
def curve(target: wh.Warehouse, name: str, product_id: str) -> pd.DataFrame:
    return data.load_curve(target, name, product_id)


@st.cache_data(ttl=ui.DATA_TTL_S, show_spinner=False)
def observed(target: wh.Warehouse, name: str, product_id: str) -> pd.DataFrame:
    return data.load_observed(target, name, product_id)


def banner(problem: Exception) -> None:
    """The model not trained yet is a notice; anything else as the simulated shop's banners."""
    if isinstance(problem, data.ModelNotTrained):
        st.info(f"**No model yet**: {problem}.", icon=":material/model_training:")
    elif isinstance(problem, data.ImportMissing):
        st.warning(f"**Import not found**: {problem}.", icon=":material/search_off:")
    else:
        ui.banner(problem)


def advice_or_notice(name: str) -> data.Advice | None:
    """The model's stored advice, or None after a banner saying why there is none."""
    stored, problem = ui.attempt(advice, ui.warehouse(), name, spinner="Loading…")
    if problem is not None:
        banner(problem)
        return None
    return stored


def products_or_notice(name: str) -> pd.DataFrame | None:
    found, problem = ui.attempt(products, ui.warehouse(), name, spinner="Loading the products…")
    if problem is not None:
        banner(problem)
        return None
    if found.empty:
        st.info(f"The import {name!r} has no products.")
        return None
    return found


def sidebar_status(box, name: str) -> None:
    """The import's file, when it came in, and the model's state (instead of the shop's)."""
    with box:
        st.caption("STATUS")
        found, problem = ui.attempt(overview, ui.warehouse(), name)
        if problem is not None:
            st.markdown(":red[●] Import unavailable")
            return
        record = found.record
        st.markdown(
            f":green[●] {fmt.code(record['file_name'])} imported {fmt.ago(record['imported_at'])}",
            help=f"{record['layout']} layout, {record['format']}, read by {record['connector']}"
            f" on {fmt.utc_label(record['imported_at'])}",
        )
        stored, problem = ui.attempt(advice, ui.warehouse(), name)
        if problem is not None or stored.evaluation is None:
            st.markdown(":orange[●] Model: not trained yet")
            return
        ev = stored.evaluation
        colour = "green" if held_out(ev) and data.model_loses(ev) is None else "orange"
        st.markdown(
            f":{colour}[●] Model {fmt.code(ev['model'])} v{int(ev['model_version'])} "
            f"trained {fmt.ago(ev['trained_at'])}"
        )
        st.caption(backtest_phrase(ev))


def held_out(ev: pd.Series | None) -> bool:
    """Whether the model was backtested (too short an import holds no week out)."""
    return ev is not None and not pd.isna(ev["model_rmsse"]) and int(ev["folds"]) > 0


def backtest_phrase(ev: pd.Series) -> str:
    """'Out of sample, RMSSE 0.81 against 0.95 for the 28-day mean: beats it'."""
    if not held_out(ev):
        return "Not evaluated: the import spans too few days to hold a week out"
    verdict = "beats it" if data.model_loses(ev) is None else "does NOT beat it"
    return (
        f"Out of sample ({int(ev['folds'])} weekly folds), RMSSE {ev['model_rmsse']:.2f} and "
        f"Poisson deviance {ev['model_poisson_deviance']:.2f} against "
        f"{ev['trailing_mean_rmsse']:.2f} and {ev['trailing_mean_poisson_deviance']:.2f} for the "
        f"product's 28-day mean: {verdict}"
    )
