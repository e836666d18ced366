"""Streamlit glue shared by the pages: cached loaders, outage banners, the sidebar status.

Every slow call goes through `attempt`, which turns a known failure into a banner and lets the
rest of the page render; unknown errors are logged and shown as one line, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from profiteer_app import advice_data, catalog_data, file_data
from profiteer_app import formatting as fmt
from profiteer_app import predictor as pred
from profiteer_app import recommendation_data as prices
from profiteer_app import warehouse as wh
from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.sources.base import SHOP, Source

log = logging.getLogger("profiteer_app")
T = TypeVar("T")

DATA_TTL_S = 30  # warehouse tables change once an hour; a short TTL keeps the page live
STATUS_TTL_S = 10  # the model's status: a training run ends within a minute or so
PREDICTION_TTL_S = 300  # same inputs, same model version -> same answer

STALE_AFTER = timedelta(hours=2)  # the metrics refresh hourly: older than this is worth a look
SIMULATION_PAGE = "views/simulation.py"
RECOMMENDATIONS_PAGE = "views/recommendations.py"


def warehouse() -> wh.Warehouse:
    """The read-only login (PROFITEER_READER_USER/PASSWORD), never the admin user."""
    return wh.Warehouse(settings_mod.load().reader)


def predictor() -> pred.Predictor:
    return pred.Predictor.from_env(settings_mod.load().mindsdb_url)


# --- cached loaders (keyed by the connection target, so a changed environment is a new key) --


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def dashboard_data(target: wh.Warehouse, schema: str = wh.metrics.SCHEMA) -> wh.DashboardData:
    return wh.load_dashboard(target, schema)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def products(target: wh.Warehouse) -> pd.DataFrame:
    return wh.load_products(target)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def buckets(target: wh.Warehouse, product_id: str) -> pd.DataFrame:
    return wh.load_buckets(target, product_id)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def freshness(target: wh.Warehouse) -> wh.Freshness:
    return wh.load_freshness(target)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def recommendations(target: wh.Warehouse) -> prices.Recommendations:
    return prices.load_recommendations(target)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def _imports(target: wh.Warehouse) -> pd.DataFrame:
    return file_data.load_imports(target)


def imports() -> tuple[pd.DataFrame, bool]:
    """Every import, newest first, and whether the list could be read at all (False: the
    warehouse is unreachable, and the pages say so)."""
    found, problem = attempt(_imports, warehouse())
    return (file_data.no_imports(), False) if problem is not None else (found, True)


def imported_at(name: str):
    """When the import `name` was stored (the cache key of its own tables), or None."""
    found = imports()[0]
    rows = found[found["name"] == name]
    return None if rows.empty else rows["imported_at"].iloc[0]


#: An import's own tables change only when it is imported again, so they are keyed by its
#: `imported_at` too (from the list, refreshed every half minute) and kept for an hour.
IMPORT_TTL_S = 3600


@st.cache_data(ttl=IMPORT_TTL_S, show_spinner=False, max_entries=20)
def _file_overview(target: wh.Warehouse, name: str, version) -> file_data.Overview:
    return file_data.load_overview(target, name)


def file_overview(target: wh.Warehouse, name: str) -> file_data.Overview:
    return _file_overview(target, name, imported_at(name))


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def advice(target: wh.Warehouse, source: Source) -> advice_data.Advice:
    return advice_data.load_advice(target, source)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def daily_curve(target: wh.Warehouse, source: Source, product_id: str) -> pd.DataFrame:
    return advice_data.load_curve(target, source, product_id)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def observed(target: wh.Warehouse, source: Source, product_id: str) -> pd.DataFrame:
    return advice_data.load_observed(target, source, product_id)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def stored_curve(target: wh.Warehouse, product_id: str, bucket: str) -> prices.StoredCurve:
    return prices.load_curve(target, product_id, bucket)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False)
def forecast(target: wh.Warehouse) -> pd.DataFrame:
    return prices.load_forecast(target)


@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def model_status(target: pred.Predictor) -> pred.ModelStatus:
    return target.status()


@st.cache_data(ttl=PREDICTION_TTL_S, show_spinner=False, max_entries=2000)
def predict(target: pred.Predictor, version: int | None, rows: pd.DataFrame) -> list[float]:
    """Predicted purchases for each row (one round trip); `version` keys the cache by model."""
    return target.predict(rows).tolist()


# --- failures as banners -------------------------------------------------------------------


def loaded(
    fn: Callable[..., T], *args: Any, spinner: str | None = None, empty: str | None = None
) -> T | None:
    """What a loader returns, or None after a banner saying why there is nothing to show: an
    outage or missing tables (`banner`), or, with `empty`, that notice for an empty frame."""
    found, problem = attempt(fn, *args, spinner=spinner)
    if problem is not None:
        banner(problem)
        return None
    if empty is not None and found.empty:
        st.info(empty)
        return None
    return found


def catalog_or_notice() -> pd.DataFrame | None:
    """The products for a page, or None after showing why there are none (outage or empty)."""
    return loaded(
        products, warehouse(), spinner="Loading the catalog…",
        empty="The catalog is empty: the `products` asset has not been materialized yet.",
    )  # fmt: skip


KNOWN = (wh.WarehouseUnavailable, wh.MetricsMissing, pred.MindsDBUnavailable, pred.ModelNotReady)


def attempt(
    fn: Callable[..., T], *args: Any, spinner: str | None = None
) -> tuple[T | None, Exception | None]:
    """Call a loader; on failure return (None, error) instead of raising."""
    try:
        if spinner:
            with st.spinner(spinner):
                return fn(*args), None
        return fn(*args), None
    except KNOWN as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 (a page must never show a traceback)
        log.exception("unexpected error in %s", getattr(fn, "__name__", fn))
        return None, exc


def banner(problem: Exception, where: str = "") -> None:
    """One clear banner per kind of outage, saying what still works."""
    suffix = f" {where}" if where else ""
    if isinstance(problem, wh.WarehouseUnavailable):
        st.error(
            f"**Warehouse unreachable**{suffix}: {problem}. The figures that come from it cannot "
            "be shown right now; the page retries on its next refresh.",
            icon=":material/cloud_off:",
        )
    elif isinstance(problem, advice_data.ModelNotTrained):
        st.info(f"**No model yet**{suffix}: {problem}.", icon=":material/model_training:")
    elif isinstance(problem, file_data.ImportMissing):
        st.warning(f"**Import not found**{suffix}: {problem}.", icon=":material/search_off:")
    elif isinstance(problem, prices.RecommendationsMissing):
        st.info(
            f"**No price recommendations yet**{suffix}: {problem}",
            icon=":material/hourglass_empty:",
        )
    elif isinstance(problem, wh.MetricsMissing):
        st.info(
            f"**No metrics yet**{suffix}: {problem}. Materialize the hourly job in Dagster "
            "(`make up` does it), then refresh.",
            icon=":material/hourglass_empty:",
        )
    elif isinstance(problem, pred.ModelNotReady):
        st.info(f"**{problem.headline}**{suffix}: {problem}", icon=":material/model_training:")
    elif isinstance(problem, pred.MindsDBUnavailable):
        st.warning(
            f"**MindsDB unreachable**{suffix}: {problem}. Predictions are unavailable; the "
            "warehouse figures still work.",
            icon=":material/cloud_off:",
        )
    else:
        st.error(f"**Something went wrong**{suffix}: {type(problem).__name__}: {problem}")


def sidebar_status(box: Any) -> None:
    """Data freshness and the model's state, on every page (into the sidebar container `box`)."""
    with box:
        st.caption("STATUS")
        fresh, problem = attempt(freshness, warehouse())
        if problem is not None:
            if isinstance(problem, wh.MetricsMissing):
                st.markdown(":orange[●] Data: not materialized yet")
            else:
                st.markdown(":red[●] Warehouse unreachable")
        elif fresh.refreshed_at is None:
            st.markdown(":orange[●] Data: not materialized yet")
        else:
            age = datetime.now(UTC) - fresh.refreshed_at
            colour = "green" if age <= STALE_AFTER else "orange"  # the hourly job has stalled?
            st.markdown(
                f":{colour}[●] Data refreshed {fmt.ago(fresh.refreshed_at)}  \n"
                f"latest hour {fmt.utc_label(fresh.latest_hour)}",
                help=f"last refresh of the metric tables: {fmt.utc_label(fresh.refreshed_at)}"
                f" ({fresh.mode}, {fresh.sales_rows:,} sales rows re-aggregated)",
            )
        status, problem = attempt(lambda: model_status(predictor()))
        if problem is not None:
            unreachable = isinstance(problem, pred.MindsDBUnavailable)
            st.markdown(
                ":red[●] MindsDB unreachable" if unreachable else ":red[●] Model unavailable"
            )
        elif status.ready:
            version = f" v{status.version}" if status.version is not None else ""
            st.markdown(f":green[●] Model `{status.name}`{version} ready")
        else:
            st.markdown(f":orange[●] Model `{status.name}`: {status.status}")
        stored, problem = attempt(recommendations, warehouse())
        phrase = prices.r2_phrase(stored.run) if problem is None else None
        if phrase:
            st.caption(phrase, help=prices.R2_EXPLAINED)
        found, problem = attempt(advice, warehouse(), SHOP)
        if problem is None and found.evaluation is not None:  # the verdict every source shows
            st.caption(advice_data.backtest_phrase(found.evaluation, SHOP))


def money_column_format() -> str:
    """A st.column_config number format for money in the shop's currency."""
    presets = {"$": "dollar", "€": "euro", "¥": "yen"}
    symbol = fmt.currency_symbol()
    return presets.get(symbol, f"{symbol}%.2f")


NO_CATEGORY = "—"


def dashed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as shown: a product without a category shows "—", not "None"."""
    if "category" not in frame:
        return frame
    return frame.assign(category=frame["category"].astype(object).fillna(NO_CATEGORY))


def product_columns() -> dict:
    """How every product table shows a product: name, SKU, category and base price."""
    return {
        "product_name": st.column_config.TextColumn("Product", width="medium"),
        "product_id": st.column_config.TextColumn("SKU", width="small"),
        "category": st.column_config.TextColumn("Category"),
        "base_price": st.column_config.NumberColumn("Base price", format=money_column_format()),
    }


def open_simulation(source: Source, product_id: str, bucket: str | None = None) -> None:
    """The price simulation of `product_id` in `source` (at a time-of-day bucket, where the
    source has them)."""
    params = {"product": product_id}
    st.session_state["product"] = product_id
    if source.is_import:
        params["source"] = source.name
    if bucket and source.capabilities.time_of_day:
        st.session_state["bucket"] = bucket
        params["bucket"] = bucket
    st.switch_page(SIMULATION_PAGE, query_params=params)


def simulation_picker(source: Source, table: pd.DataFrame, *, key: str, label: str) -> None:
    """A product of `table` to pick, and a button that opens its price simulation."""
    by_id = table.set_index("product_id")
    pick_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    pid = pick_col.selectbox(
        "Product", by_id.index.tolist(), key=key,
        format_func=lambda p: f"{by_id.loc[p, 'product_name'] or p} · {p}",
    )  # fmt: skip
    if button_col.button(label, icon=":material/tune:", width="stretch", key=f"{key}_open"):
        open_simulation(source, pid)


@st.cache_data(ttl=DATA_TTL_S, show_spinner=False, max_entries=20)
def catalog(target: wh.Warehouse, source: Source, version=None) -> pd.DataFrame:
    """Every product of `source` with its sales and advice; `version` (an import's time) makes
    a re-import a new entry at once."""
    return catalog_data.load_catalog(target, source)
