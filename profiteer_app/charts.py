"""The app's Plotly figures, built from plain DataFrames (no Streamlit), so tests can inspect them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from profiteer_app.formatting import currency_symbol

FUNNEL = ("views", "cart_adds")  # a source without a funnel has no such series
SERIES = {  # hourly_totals column -> (label, colour)
    "views": ("Views", "#4C78A8"),
    "cart_adds": ("Cart adds", "#F58518"),
    "purchases": ("Purchases", "#54A24B"),
}
_LAYOUT = dict(
    margin=dict(l=10, r=10, t=40, b=10),
    height=340,
    hovermode="x unified",
    legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
)
_BOTTOM_LEGEND = dict(orientation="h", yanchor="top", y=-0.25, xanchor="center", x=0.5)


def hourly_figure(
    today: pd.DataFrame, before: pd.DataFrame, series: list[str], day_label: str = ""
) -> go.Figure:
    """The latest day hour by hour against the day before, one small chart per series (each
    y-axis from zero: no second axis that magnifies a wobble). `today`/`before` hold
    `hour_of_day` and the series' columns."""
    from plotly.subplots import make_subplots

    labels = [SERIES[c][0] for c in series]
    fig = make_subplots(rows=len(series), cols=1, shared_xaxes=True, subplot_titles=labels,
                        vertical_spacing=0.08)  # fmt: skip
    for i, col in enumerate(series, start=1):
        label, color = SERIES[col]
        if not before.empty:
            fig.add_trace(
                go.Scatter(x=before["hour_of_day"], y=before[col], name=f"{label}, day before",
                           mode="lines", line=dict(color=color, width=1.5, dash="dot"),
                           opacity=0.6),
                row=i, col=1,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=today["hour_of_day"], y=today[col], name=label, mode="lines+markers",
                       line=dict(color=color, width=2)),
            row=i, col=1,
        )  # fmt: skip
        top = max(float(today[col].max() if not today.empty else 0),
                  float(before[col].max() if not before.empty else 0)) or 1.0  # fmt: skip
        fig.update_yaxes(range=[0, top * 1.1], row=i, col=1)
    fig.update_xaxes(dtick=2, range=[-0.5, 23.5])
    fig.update_xaxes(title="hour of day (UTC)", row=len(series), col=1)
    fig.update_layout(
        **{**_LAYOUT, "height": 180 + 150 * len(series), "legend": _BOTTOM_LEGEND},
        title=f"Hour by hour, {day_label} (UTC); dotted: the day before"
        if day_label else "Hour by hour (UTC)",
    )  # fmt: skip
    return fig


def forecast_figure(actual: pd.DataFrame, forecast: pd.DataFrame) -> go.Figure:
    """Revenue per hour: the last hours as sold, then the model's next 24 hours (dashed);
    y from zero. Both frames hold `hour` and `revenue`."""
    sym = currency_symbol()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=actual["hour"], y=actual["revenue"], name="revenue, actual",
                   mode="lines", line=dict(color="#4C78A8", width=2))
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=forecast["hour"], y=forecast["revenue"], name="forecast, next 24 hours",
                   mode="lines", line=dict(color="#E45756", width=2, dash="dash"))
    )  # fmt: skip
    top = max(float(actual["revenue"].max() if not actual.empty else 0),
              float(forecast["revenue"].max() if not forecast.empty else 0)) or 1.0  # fmt: skip
    fig.update_layout(
        **{**_LAYOUT, "legend": _BOTTOM_LEGEND},
        title="Revenue per hour: the last 24 hours and the model's next 24",
        xaxis=dict(title="hour (UTC)"),
        yaxis=dict(title=f"revenue per hour ({sym})", range=[0, top * 1.15]),
    )
    return fig


DAILY_SERIES = {  # an import's daily column -> (label, colour)
    "units": ("Units sold", "#54A24B"),
    "revenue": ("Revenue", "#4C78A8"),
}


def daily_figure(daily: pd.DataFrame) -> go.Figure:
    """An import's units and revenue per day, one small chart each (y from zero). `daily` holds
    `day` and the DAILY_SERIES columns."""
    from plotly.subplots import make_subplots

    sym = currency_symbol()
    keys = list(DAILY_SERIES)
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=[DAILY_SERIES[k][0] for k in keys])  # fmt: skip
    for i, col in enumerate(keys, start=1):
        label, color = DAILY_SERIES[col]
        unit = f"{sym}%{{y:,.2f}}" if col == "revenue" else "%{y:,.0f} units"
        fig.add_trace(
            go.Bar(x=daily["day"], y=daily[col], name=label, marker_color=color,
                   hovertemplate=f"%{{x|%Y-%m-%d}}: {unit}<extra></extra>"),
            row=i, col=1,
        )  # fmt: skip
        top = float(daily[col].max()) if not daily.empty else 0.0
        fig.update_yaxes(range=[0, (top or 1.0) * 1.1], row=i, col=1)
    fig.update_yaxes(title="units per day", row=1, col=1)
    fig.update_yaxes(title=f"revenue per day ({sym})", row=2, col=1)
    fig.update_xaxes(title="day (UTC)", row=len(keys), col=1)
    fig.update_layout(**{**_LAYOUT, "height": 480, "showlegend": False},
                      title="Per day, all products (UTC days)")  # fmt: skip
    return fig
