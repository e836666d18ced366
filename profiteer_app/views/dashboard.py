"""Dashboard: the latest day at a glance, from the pre-aggregated metric tables."""

from __future__ import annotations

import streamlit as st

from profiteer_app import charts, ui
from profiteer_app import formatting as fmt
from profiteer_app import warehouse as wh


def render() -> None:
    st.title("Dashboard")

    data, problem = ui.attempt(ui.dashboard_data, ui.warehouse(), spinner="Loading the metrics…")
    if problem is not None:
        ui.banner(problem)
        return

    latest, previous = data.latest, data.previous
    if latest is None:
        st.info("No sales in the warehouse yet: the metrics fill in after the first hourly run.")
        return

    day = latest["day"]
    hours = int(latest["hours"])
    partial = hours < 24
    st.caption(
        f"Latest day **{day:%A %d %B %Y}** (UTC)"
        + (
            f" · {hours} of 24 hours so far; changes compare them with the whole day before."
            if partial
            else "; changes are against the day before."
        )
    )
    versus = "vs yesterday"  # the day before the latest (a whole day, even when today is not)

    # --- cards -----------------------------------------------------------------------------
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Revenue",
        fmt.money(latest["revenue"]),
        fmt.signed_percent(latest["revenue_change_pct"]),
        help=f"{fmt.money(latest['revenue'], exact=True)} on {day:%Y-%m-%d}",
        delta_description=versus,
        border=True,
    )
    c2.metric(
        "Items sold",
        fmt.count(latest["items_sold"]),
        fmt.signed_percent(latest["items_sold_change_pct"]),
        help=f"{int(latest['items_sold']):,} purchases",
        delta_description=versus,
        border=True,
    )
    c3.metric(
        "Conversion rate",
        fmt.percent(latest["conversion_rate"], 2),
        fmt.signed_percent(latest["conversion_rate_change_pct"]),
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
    chosen = st.pills(
        "Show",
        options=list(charts.SERIES),
        default=list(charts.SERIES),
        format_func=lambda key: charts.SERIES[key][0],
        selection_mode="multi",
        key="hourly_series",
    )
    if not chosen:
        st.caption("Pick at least one series to plot.")
    elif data.hourly.empty:
        st.caption("No hours recorded for the latest day yet.")
    else:
        st.plotly_chart(
            charts.hourly_figure(data.hourly, list(chosen), f"{day:%Y-%m-%d}"),
        )

    # --- top categories, each with its recent trend ------------------------------------------
    st.subheader("Top categories")
    top = wh.top_categories(data.categories)
    if top.empty:
        st.caption("No category revenue yet.")
    else:
        for col, (i, cat) in zip(st.columns(max(len(top), 3)), top.iterrows(), strict=False):
            trend = [float(v) for v in cat["trend"]]
            col.metric(
                f"#{i + 1} {fmt.md_escape(cat['category'])}",
                fmt.money(cat["revenue"]),
                fmt.signed_percent(cat["revenue_change_pct"]) or "new",
                delta_description=versus,
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
        hot = data.hot[
            ["rank", "product_name", "product_id", "category", "purchases", "revenue", "views",
             "conversion_rate"]
        ]  # fmt: skip
        st.dataframe(
            hot,
            hide_index=True,
            column_config={
                "rank": st.column_config.NumberColumn("#", width="small"),
                "product_name": st.column_config.TextColumn("Product", width="medium"),
                "product_id": st.column_config.TextColumn("Id", width="small"),
                "category": st.column_config.TextColumn("Category"),
                "purchases": st.column_config.NumberColumn("Purchases", format="localized"),
                "revenue": st.column_config.NumberColumn("Revenue", format=ui.money_column_format()),
                "views": st.column_config.NumberColumn("Views", format="compact"),
                "conversion_rate": st.column_config.ProgressColumn(
                    "Conversion", format="%.2f %%", min_value=0,
                    max_value=max(float(hot["conversion_rate"].max() or 1), 1.0),
                ),
            },
        )  # fmt: skip


render()
