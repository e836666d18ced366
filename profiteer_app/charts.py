"""The app's Plotly figures, built from plain DataFrames (no Streamlit), so tests can inspect them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from profiteer_app.formatting import currency_symbol, money

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


def hourly_figure(hourly: pd.DataFrame, series: list[str], day_label: str = "") -> go.Figure:
    """The latest day hour by hour; views on their own axis (they are ~100x the others)."""
    fig = go.Figure()
    for col in series:
        label, color = SERIES[col]
        fig.add_trace(
            go.Scatter(
                x=hourly["hour_of_day"],
                y=hourly[col],
                name=label,
                mode="lines+markers",
                line=dict(color=color, width=2),
                yaxis="y2" if col == "views" and len(series) > 1 else "y",
            )
        )
    fig.update_layout(
        **_LAYOUT,
        title=f"Hour by hour, {day_label} (UTC)" if day_label else "Hour by hour (UTC)",
        xaxis=dict(title="hour of day", dtick=2, range=[-0.5, 23.5]),
        yaxis=dict(title="cart adds / purchases" if "views" not in series else "count"),
    )
    if "views" in series and len(series) > 1:
        fig.update_layout(
            yaxis=dict(title="cart adds / purchases"),
            yaxis2=dict(title="views", overlaying="y", side="right", showgrid=False),
        )
    return fig


def revenue_figure(
    curve: pd.DataFrame,
    *,
    best_price: float,
    best_revenue: float,
    base_price: float,
    base_revenue: float,
    current_price: float | None = None,
) -> go.Figure:
    """Revenue (price × predicted purchases) over the price range, optimum and base marked."""
    sym = currency_symbol()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=curve["price"],
            y=curve["revenue"],
            name="predicted revenue",
            mode="lines+markers",
            line=dict(color="#4C78A8", width=3),
            marker=dict(size=5),
            hovertemplate=f"price {sym}%{{x:,.2f}}<br>revenue {sym}%{{y:,.0f}}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[best_price],
            y=[best_revenue],
            name=f"best price {money(best_price, exact=True)}",
            mode="markers+text",
            marker=dict(symbol="star", size=18, color="#E45756"),
            text=[f"best {money(best_price, exact=True)}"],
            textposition="top center",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[base_price],
            y=[base_revenue],
            name=f"base price {money(base_price, exact=True)}",
            mode="markers",
            marker=dict(symbol="diamond", size=12, color="#72B7B2"),
        )
    )
    if current_price is not None:
        fig.add_vline(x=current_price, line=dict(color="#888", dash="dot"))
    top = float(max(curve["revenue"].max(), best_revenue, base_revenue, 0)) or 1.0
    fig.update_layout(
        **{**_LAYOUT, "legend": _BOTTOM_LEGEND},
        title="Revenue curve",
        xaxis=dict(title=f"price ({sym})"),
        yaxis=dict(title=f"revenue per hour ({sym})", range=[0, top * 1.18]),
    )
    return fig


def purchases_figure(curve: pd.DataFrame, current_price: float | None = None) -> go.Figure:
    """Predicted purchases per hour across the price range (the demand curve)."""
    sym = currency_symbol()
    fig = go.Figure(
        go.Scatter(
            x=curve["price"],
            y=curve["purchases"],
            name="predicted purchases",
            mode="lines+markers",
            line=dict(color="#54A24B", width=3),
            marker=dict(size=5),
            hovertemplate=f"price {sym}%{{x:,.2f}}<br>%{{y:,.1f}} purchases<extra></extra>",
        )
    )
    if current_price is not None:
        fig.add_vline(x=current_price, line=dict(color="#888", dash="dot"))
    top = float(max(curve["purchases"].max(), 0)) or 1.0
    fig.update_layout(
        **{**_LAYOUT, "legend": _BOTTOM_LEGEND},
        title="Predicted purchases",
        xaxis=dict(title=f"price ({sym})"),
        yaxis=dict(title="purchases per hour", range=[0, top * 1.18]),
    )
    return fig
