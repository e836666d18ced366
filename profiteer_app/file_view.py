"""The sections only a file source has: on the dashboard its totals over the whole period and its
units and revenue per day (before the latest day, which every source's dashboard shows), then its
top products, its returns, and how its lines were judged (read, accepted, returns, rejected by
reason); in the sidebar, the file and the model's state."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import advice_data as advice
from profiteer_app import charts, ui
from profiteer_app import file_data as data
from profiteer_app import formatting as fmt
from profiteer_pipeline.sources.base import Source


def period(summary: dict) -> tuple[pd.Timestamp | None, pd.Timestamp | None, int]:
    """First and last hour with a sale (UTC) and the number of calendar days they span."""
    first, last = summary.get("first_hour"), summary.get("last_hour")
    if not first or not last:
        return None, None, 0
    a, b = pd.Timestamp(first).tz_convert("UTC"), pd.Timestamp(last).tz_convert("UTC")
    return a, b, (b.normalize() - a.normalize()).days + 1


def overview(chosen: Source) -> data.Overview | None:
    """The import's whole period: the file, the totals and the days (None after a banner when
    the import cannot be read)."""
    name = chosen.name
    found = ui.loaded(ui.file_overview, ui.warehouse(), name, spinner="Loading the import…")
    if found is None:
        return None
    record, summary, daily = found.record, found.summary, found.daily
    first, last, days = period(summary)
    st.caption(
        f"Import **{fmt.md_escape(name)}**: {fmt.code(record['file_name'])} "
        f"({record['layout']} layout), imported {fmt.ago(record['imported_at'])}. "
        + (f"Sales from {first:%Y-%m-%d %H:00} to {last:%Y-%m-%d %H:00} UTC." if first else "")
    )

    units = float(daily["units"].sum()) if not daily.empty else 0.0
    revenue = float(daily["revenue"].sum()) if not daily.empty else 0.0
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Total units sold", fmt.count(units), help=f"{units:,.3f} units", border=True)
    c2.metric("Total revenue", fmt.money(revenue), help=fmt.money(revenue, exact=True), border=True)
    if summary.get("orders") is not None:
        c3.metric("Orders", fmt.count(summary["orders"]), border=True)
    else:
        c3.metric(
            "Order lines", fmt.count(summary.get("lines_accepted")), border=True,
            help="accepted sales lines of the file (one per product in an order)",
        )  # fmt: skip
    c4.metric("Products", fmt.count(summary.get("products")), border=True)
    c5.metric(
        "Period", f"{days} days" if days else "–", border=True,
        help=f"{first:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)" if first else None,
    )  # fmt: skip

    st.subheader("Day by day")
    if daily.empty:
        st.caption("No days with sales.")
    else:
        st.plotly_chart(charts.daily_figure(daily), key="import_daily")
    return found


def details(found: data.Overview) -> None:
    """After the latest day: the period's top products, the returns and the file's lines."""
    daily = found.daily
    units = float(daily["units"].sum()) if not daily.empty else 0.0
    top_products(found.top)
    returns(daily, found.summary, units)
    quality(found.summary)


def top_products(top: pd.DataFrame) -> None:
    st.subheader("Top products of the period")
    if top.empty:
        st.caption("No products.")
        return
    shown = top[["product_name", "product_id", "category", "units", "revenue", "returned_units"]]
    if shown["category"].isna().all():  # the file had no category column
        shown = shown.drop(columns="category")
    shown = ui.dashed(shown)
    st.dataframe(
        shown,
        hide_index=True,
        key="import_top",
        column_config={
            **ui.product_columns(),
            "units": st.column_config.NumberColumn("Units", format="localized"),
            "revenue": st.column_config.NumberColumn("Revenue", format=ui.money_column_format()),
            "returned_units": st.column_config.NumberColumn("Returned", format="localized"),
        },
    )


def returns(daily: pd.DataFrame, summary: dict, units: float) -> None:
    st.subheader("Returns")
    returned = float(daily["returned_units"].sum()) if not daily.empty else 0.0
    lines = int(summary.get("lines_returned") or 0)
    if not lines:
        st.caption("No returns in the file (no cancelled invoices or negative quantities).")
        return
    share = returned / units * 100 if units else None
    st.markdown(
        f"**{fmt.count(returned)} {'unit' if returned == 1 else 'units'} returned** in {lines:,} "
        f"return {'line' if lines == 1 else 'lines'}"
        + (f" ({fmt.percent(share)} of the units sold)" if share is not None else "")
        + ". Returns (cancelled invoices, negative quantities) are kept apart: never counted "
        "as sales, nor in the price model."
    )


def quality(summary: dict) -> None:
    st.subheader("The file's lines")
    read = int(summary.get("lines_read") or 0)
    q1, q2, q3, q4 = st.columns(4)
    q1.metric("Lines read", f"{read:,}", border=True)
    q2.metric("Accepted sales", f"{int(summary.get('lines_accepted') or 0):,}", border=True)
    q3.metric("Returns", f"{int(summary.get('lines_returned') or 0):,}", border=True)
    q4.metric("Rejected", f"{int(summary.get('lines_rejected') or 0):,}", border=True)
    reasons = summary.get("rejected_by_reason") or {}
    if not reasons:
        st.caption("No line was rejected.")
        return
    table = pd.DataFrame(
        sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])), columns=["reason", "lines"]
    )
    table["share"] = table["lines"] / read * 100 if read else 0.0
    st.dataframe(
        table,
        hide_index=True,
        key="import_rejected",
        column_config={
            "reason": st.column_config.TextColumn("Rejected because"),
            "lines": st.column_config.NumberColumn("Lines", format="localized"),
            "share": st.column_config.NumberColumn("Of the lines read", format="%.2f %%"),
        },
    )
    st.caption(
        "Every rejected line is kept with its line number, column and value in the import's "
        "`quarantine` table; no line disappears silently."
    )


def sidebar_status(box, chosen: Source) -> None:
    """The import's file, when it came in, and the model's state (instead of the shop's)."""
    with box:
        st.caption("STATUS")
        found, problem = ui.attempt(ui.file_overview, ui.warehouse(), chosen.name)
        if problem is not None:
            st.markdown(":red[●] Import unavailable")
            return
        record = found.record
        st.markdown(
            f":green[●] {fmt.code(record['file_name'])} imported {fmt.ago(record['imported_at'])}",
            help=f"{record['layout']} layout, {record['format']}, read by {record['connector']}"
            f" on {fmt.utc_label(record['imported_at'])}",
        )
        stored, problem = ui.attempt(ui.advice, ui.warehouse(), chosen)
        if problem is not None or stored.evaluation is None:
            st.markdown(":orange[●] Model: not trained yet")
            return
        ev = stored.evaluation
        wins = advice.held_out(ev) and advice.model_loses(ev, chosen) is None
        st.markdown(
            f":{'green' if wins else 'orange'}[●] Model {fmt.code(ev['model'])} "
            f"v{int(ev['model_version'])} trained {fmt.ago(ev['trained_at'])}"
        )
        st.caption(advice.backtest_phrase(ev, chosen))
