"""The simulation's Plotly figures from the stored curve (no Streamlit), so tests can inspect them.

Both start their y-axis at zero. The demand chart shows the evidence: the model's own
predictions at each grid price, their demand line with the held-out error band, and the
observed hours of the product in that bucket (average purchases per price bin).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from profiteer_app.formatting import currency_symbol, money

_LAYOUT = dict(
    margin=dict(l=10, r=10, t=40, b=10),
    height=360,
    hovermode="closest",
    legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="center", x=0.5),
)
_MARKS = {
    "base": ("#72B7B2", "dash"),
    "current": ("#888888", "dot"),
    "slider": ("#E45756", "solid"),
}


def _marks(fig: go.Figure, marks: dict[str, float]) -> None:
    for name, x in marks.items():
        color, dash = _MARKS[name]
        fig.add_vline(x=x, line=dict(color=color, dash=dash, width=1.5))


def demand_figure(
    curve: pd.DataFrame, observed: pd.DataFrame, marks: dict[str, float]
) -> go.Figure:
    """Purchases per hour by price: smoothed curve, error band, model points, observed hours."""
    sym = currency_symbol()
    fig = go.Figure()
    if curve["purchases_high"].notna().all():
        fig.add_trace(
            go.Scatter(
                x=pd.concat([curve["price"], curve["price"][::-1]]),
                y=pd.concat([curve["purchases_high"], curve["purchases_low"][::-1]]),
                fill="toself", fillcolor="rgba(84,162,75,0.15)", line=dict(width=0),
                name="held-out error band", hoverinfo="skip",
            )
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=curve["price"], y=curve["model_purchases"], mode="markers",
            marker=dict(size=4, color="#9E9E9E"), name="model, each grid price",
            hovertemplate=f"{sym}%{{x:,.2f}}: %{{y:,.1f}} (model)<extra></extra>",
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=curve["price"], y=curve["purchases"], mode="lines",
            line=dict(color="#54A24B", width=3), name="demand line",
            hovertemplate=f"{sym}%{{x:,.2f}}: %{{y:,.1f}} purchases/h<extra></extra>",
        )
    )  # fmt: skip
    if not observed.empty:
        size = 5 + 10 * observed["hours"] / max(float(observed["hours"].max()), 1.0)
        fig.add_trace(
            go.Scatter(
                x=observed["price"], y=observed["purchases"], mode="markers",
                marker=dict(size=size, color="#4C78A8", opacity=0.7, line=dict(width=0)),
                name="observed (avg per price bin)", customdata=observed["hours"],
                hovertemplate=f"{sym}%{{x:,.2f}}: %{{y:,.1f}}/h over %{{customdata}} h"
                "<extra>observed</extra>",
            )
        )  # fmt: skip
    _marks(fig, marks)
    top = max(float(curve["purchases_high"].max(skipna=True) or 0), float(curve["purchases"].max()))
    if not observed.empty:
        top = max(top, float(observed["purchases"].max()))
    fig.update_layout(
        **_LAYOUT,
        title="Purchases per hour by price",
        xaxis=dict(title=f"price ({sym})"),
        yaxis=dict(title="purchases per hour", range=[0, (top or 1.0) * 1.1]),
    )
    return fig


def value_figure(
    curve: pd.DataFrame,
    column: str,
    *,
    best_price: float,
    best_value: float,
    marks: dict[str, float],
) -> go.Figure:
    """Revenue (or profit) per hour by price, from the smoothed curve, the best price starred."""
    sym = currency_symbol()
    label = "profit" if column == "profit" else "revenue"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=curve["price"], y=curve[column], mode="lines", line=dict(color="#4C78A8", width=3),
            name=f"expected {label} per hour",
            hovertemplate=f"{sym}%{{x:,.2f}}: {sym}%{{y:,.0f}}/h<extra></extra>",
        )
    )  # fmt: skip
    _best_star(fig, best_price, best_value, curve["price"])
    _marks(fig, marks)
    top = max(float(curve[column].max()), best_value, 0.0) or 1.0
    fig.update_layout(
        **_LAYOUT,
        title=f"Expected {label} per hour by price",
        xaxis=dict(title=f"price ({sym})"),
        yaxis=dict(title=f"{label} per hour ({sym})", range=[0, top * 1.2]),
    )
    return fig


def _best_star(fig: go.Figure, price: float, value: float, prices: pd.Series) -> None:
    """The best price, starred and labelled, on a price curve over `prices`: the label leans
    inward near either end of the axis, so it is not cut off."""
    low, high = float(prices.min()), float(prices.max())
    where = (price - low) / (high - low) if high > low else 0.5
    lean = "top right" if where < 0.25 else "top left" if where > 0.75 else "top center"
    fig.add_trace(
        go.Scatter(
            x=[price], y=[value], mode="markers+text",
            marker=dict(symbol="star", size=16, color="#E45756"),
            text=[f"best {money(price, exact=True)}"], textposition=lean,
            name=f"best price {money(price, exact=True)}",
        )
    )  # fmt: skip


def daily_curve_figures(
    curve: pd.DataFrame,
    *,
    best_price: float | None,
    marks: dict[str, float],
    observed: pd.DataFrame | None = None,
) -> tuple[go.Figure, go.Figure]:
    """A product's stored daily curve (any source's `price_curves`): units and revenue per day by
    price, the model's own predictions (grey points) and the straight demand line fitted to them
    (`fit_units`, `fit_revenue`: what the advice reads), the best price starred, and what was
    observed at each price (`observed`, per day: sized by its `days`, or its `hours` for a
    source whose price changes by the hour); y from zero."""
    sym = currency_symbol()
    price = curve["price"].astype(float)
    figures = []
    for model_col, line_col, label, color, unit in (
        ("units_per_day", "fit_units", "units per day", "#54A24B", "%{y:,.2f} units/day"),
        ("revenue_per_day", "fit_revenue", "revenue per day", "#4C78A8", f"{sym}%{{y:,.2f}}/day"),
    ):
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=price, y=curve[model_col], mode="markers", marker=dict(size=5, color="#9E9E9E"),
                name="model, each price",
                hovertemplate=f"{sym}%{{x:,.2f}}: {unit} (model)<extra></extra>",
            )
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=price, y=curve[line_col], mode="lines", line=dict(color=color, width=3),
                name="demand line (the advice reads it)",
                hovertemplate=f"{sym}%{{x:,.2f}}: {unit}<extra></extra>",
            )
        )  # fmt: skip
        if best_price is not None:
            at_best = float(curve[line_col].iloc[(price - best_price).abs().argmin()])
            _best_star(fig, best_price, at_best, price)
        seen = observed if observed is not None and not observed.empty else None
        if seen is not None:
            count = "days" if "days" in seen else "hours"  # what each point averages
            fig.add_trace(
                go.Scatter(
                    x=seen["price"], y=seen[model_col], mode="markers",
                    marker=dict(size=6 + 12 * seen[count] / float(seen[count].max()),
                                color=color, opacity=0.45, line=dict(width=1, color=color)),
                    name="observed (mean per day at each price)",
                    customdata=seen[count],
                    hovertemplate=f"{sym}%{{x:,.2f}}: {unit} over %{{customdata}} {count}"
                    "<extra>observed</extra>",
                )
            )  # fmt: skip
        _marks(fig, marks)
        top = max(float(curve[model_col].max()), float(curve[line_col].max())) if len(curve) else 0
        if seen is not None:
            top = max(top, float(seen[model_col].max()))
        fig.update_layout(
            **_LAYOUT,
            title=f"Expected {label} by price",
            xaxis=dict(title=f"price ({sym})"),
            yaxis=dict(title=f"{label}{'' if model_col == 'units_per_day' else f' ({sym})'}",
                       range=[0, (top or 1.0) * 1.2]),
        )  # fmt: skip
        figures.append(fig)
    return figures[0], figures[1]
