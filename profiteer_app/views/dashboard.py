"""Dashboard: the latest day at a glance, from the source's pre-aggregated metric tables (the
simulated shop's `analytics`, or an import's schema: the same tables). An import's page opens
with its whole period and closes with its returns and its file's lines (`file_view`);
the funnel's figures show only where a source has views, the next 24 hours only where its model
forecasts them.

Like is compared with like: the latest day's hours so far against the same hours of the day
before (the caption says which); the category cards compare complete days. Every chart starts
its y-axis at zero; the hourly series are small multiples, not a second axis. The "next 24
hours" line is the model's forecast stored after the last training (no live call).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from profiteer_app import charts, file_view, source, ui
from profiteer_app import formatting as fmt
from profiteer_app import warehouse as wh
from profiteer_pipeline.sources.base import Source


def render(chosen: Source) -> None:
    st.title("Dashboard")
    overview = None
    if chosen.is_import:  # the file's own figures first: its whole period
        overview = file_view.overview(chosen)
        if overview is None:
            return
        st.subheader("The latest day")
    data = ui.loaded(
        ui.dashboard_data, ui.warehouse(), chosen.schema, spinner="Loading the metrics…"
    )
    if data is not None:
        latest_day(data, chosen)
    if overview is not None:
        file_view.details(overview)


def latest_day(data: wh.DashboardData, chosen: Source) -> None:
    """The latest day at a glance, from the source's metric tables: the cards against the day
    before, hour by hour, the next 24 hours (where the model forecasts them), the top categories
    and the hot products; the funnel's figures only where the source has views."""
    funnel = chosen.capabilities.funnel
    latest, previous = data.latest, data.previous
    if latest is None:
        st.info("No sales in the warehouse yet: the metrics fill in after the first hourly run.")
        return

    day = latest["day"]
    hours = int(latest["hours"])
    # a live source's latest day may still be filling up; an export's days are closed (its
    # hours count only the hours with a sale)
    partial = chosen.capabilities.live and hours < 24
    lfl = wh.like_for_like(data.recent, day)
    if partial and lfl.hours and lfl.before:
        first, last = lfl.hours[0], lfl.hours[-1]
        st.caption(
            f"Latest day **{day:%A %d %B %Y}** (UTC), **today so far**: {len(lfl.hours)} hours "
            f"({first:02d}:00–{last:02d}:59 UTC), each change against **the same hours "
            "yesterday**."
        )
        now = lfl.today
        changes = {k: lfl.change_pct(k) for k in ("revenue", "items_sold", "conversion_rate")}
        versus = "vs same hours yesterday"
    else:
        st.caption(
            f"Latest day **{day:%A %d %B %Y}** (UTC)"
            + (f", {hours} of 24 hours so far." if partial else "; changes are against the whole day before.")
        )  # fmt: skip
        now = {k: latest[k] for k in ("revenue", "items_sold", "conversion_rate")}
        changes = {
            k: latest[f"{k}_change_pct"] for k in ("revenue", "items_sold", "conversion_rate")
        }
        versus = "vs the day before"

    # --- cards -----------------------------------------------------------------------------
    cards = st.columns(4 if funnel else 3)  # the conversion rate needs views
    c1, c2, c4 = cards[0], cards[1], cards[-1]
    c1.metric(
        "Revenue" + (" so far" if partial else ""),
        fmt.money(now["revenue"]),
        fmt.signed_percent(changes["revenue"]),
        help=f"{fmt.money(now['revenue'], exact=True)} on {day:%Y-%m-%d}",
        delta_description=versus,
        border=True,
    )
    c2.metric(
        "Items sold" + (" so far" if partial else ""),
        fmt.count(now["items_sold"]),
        fmt.signed_percent(changes["items_sold"]),
        help=f"{int(now['items_sold']):,} purchases",
        delta_description=versus,
        border=True,
    )
    if funnel:
        cards[2].metric(
            "Conversion rate",
            fmt.percent(now["conversion_rate"], 2),
            fmt.signed_percent(changes["conversion_rate"]),
            help="purchases / views",
            delta_description=versus,
            border=True,
        )
    top_delta = None
    if previous is not None and previous["top_category"] and latest["top_category"]:
        same = previous["top_category"] == latest["top_category"]
        top_delta = "same as the day before" if same else f"was {previous['top_category']}"
    c4.metric(
        "Top category",
        str(latest["top_category"] or "–"),
        top_delta,
        delta_color="off",
        delta_arrow="off",
        help=f"{fmt.money(latest['top_category_revenue'])} revenue",
        border=True,
    )

    # --- hourly chart ------------------------------------------------------------------------
    st.subheader("Hour by hour")
    series = [k for k in charts.SERIES if funnel or k not in charts.FUNNEL]
    picked = st.pills(
        "Show",
        options=series,
        default=series,
        format_func=lambda key: charts.SERIES[key][0],
        selection_mode="multi",
        key="hourly_series",
    )
    if not picked:
        st.caption("Pick at least one series to plot.")
    elif data.hourly.empty:
        st.caption("No hours recorded for the latest day yet.")
    else:
        today, before = hourly_frames(data.recent, day)
        st.plotly_chart(charts.hourly_figure(today, before, list(picked), f"{day:%Y-%m-%d}"))

    if chosen.capabilities.hourly_forecast:
        forecast_section(data.recent)

    # --- top categories, each with its recent trend ------------------------------------------
    st.subheader("Top categories")
    complete = day - pd.Timedelta(days=1) if partial else day  # compare whole days only
    top = wh.top_categories(data.categories, complete if partial else None)
    if partial and not top.empty:
        st.caption(f"The last complete day, {complete:%A %d %B} (UTC), against the day before.")
    if top.empty:
        st.caption("No category revenue yet.")
    else:
        for col, (i, cat) in zip(st.columns(max(len(top), 3)), top.iterrows(), strict=False):
            trend = [float(v) for v in cat["trend"]]
            col.metric(
                f"#{i + 1} {fmt.md_escape(cat['category'])}",
                fmt.money(cat["revenue"]),
                fmt.signed_percent(cat["revenue_change_pct"]) or "new",
                delta_description="vs the day before",
                chart_data=trend if len(trend) > 1 else None,
                chart_type="area",
                help=f"{int(cat['items_sold']):,} items sold; the chart shows revenue by day over "
                f"the last {len(trend)} days",
                border=True,
            )

    # --- hot products -----------------------------------------------------------------------
    st.subheader("Hot products")
    if data.hot.empty:
        st.caption("No purchases yet on the latest day.")
    else:
        columns = {
            "rank": st.column_config.NumberColumn("#", width="small"),
            "product_name": st.column_config.TextColumn("Product", width="medium"),
            "product_id": st.column_config.TextColumn("Id", width="small"),
            "category": st.column_config.TextColumn("Category"),
            "purchases": st.column_config.NumberColumn("Purchases", format="localized"),
            "revenue": st.column_config.NumberColumn("Revenue", format=ui.money_column_format()),
        }
        if funnel:
            rates = data.hot["conversion_rate"].dropna()
            columns["views"] = st.column_config.NumberColumn("Views", format="compact")
            columns["conversion_rate"] = st.column_config.ProgressColumn(
                "Conversion", format="%.2f %%", min_value=0,
                max_value=max(float(rates.max()) if len(rates) else 1.0, 1.0),
            )  # fmt: skip
        st.dataframe(data.hot[list(columns)], hide_index=True, column_config=columns)


def hourly_frames(recent: pd.DataFrame, day) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest day's hours and the day before's, with `hour_of_day` (from hourly_sales)."""
    if recent.empty:
        return recent, recent
    stamp = pd.to_datetime(recent["hour"], utc=True)
    df = recent.assign(hour_of_day=stamp.dt.hour, revenue=recent["revenue_cents"] / 100.0)
    return df[stamp.dt.date == day], df[stamp.dt.date == day - pd.Timedelta(days=1)]


def forecast_section(recent: pd.DataFrame) -> None:
    st.subheader("Next 24 hours")
    forecast, problem = ui.attempt(ui.forecast, ui.warehouse())
    if problem is not None or forecast is None or forecast.empty:
        st.caption("No forecast stored yet: it is computed after each training of the model.")
        return
    actual = recent.assign(revenue=recent["revenue_cents"] / 100.0).tail(24)
    st.plotly_chart(charts.forecast_figure(actual, forecast), key="forecast_chart")
    st.caption(
        f"Forecast: {fmt.money(forecast['revenue'].sum())} revenue and "
        f"{fmt.count(forecast['purchases'].sum())} purchases over the next 24 hours, from the model"
        " at today's prices and each time of day's typical traffic, stored after its last "
        f"training ({fmt.ago(forecast['computed_at'].iloc[0])}); not a live call."
    )


render(source.current())
