"""Previews for asset metadata: tables and small charts as markdown the Dagster UI renders inline.

The one place that renders them. Pure (no Dagster): each function returns a markdown string; an
asset wraps it in `dg.MetadataValue.md`. Charts are PNGs embedded as data URIs, so they need no
file server.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # numpy and pandas are imported where a preview is drawn: the code location, which imports
    # this module, loads without them
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

PREVIEW_ROWS = 10


def rounded(value: float | None) -> float:
    """A model figure for metadata: 4 decimals; NaN where it was not computed (None)."""
    return round(float(value), 4) if value is not None else float("nan")


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _label(value: object) -> str:
    """A chart label: `$` escaped, so matplotlib draws names like "P$$x$$" instead of parsing math."""
    return _cell(value).replace("$", r"\$")


def markdown_table(df: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """The first rows as a markdown table (no dependency on tabulate)."""
    head = df.head(rows)
    lines = [
        "| " + " | ".join(str(c) for c in head.columns) + " |",
        "|" + "---|" * len(head.columns),
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in head.itertuples(index=False)),
    ]
    if len(df) > rows:
        lines.append(f"\n_{rows} of {len(df):,} rows_")
    return "\n".join(lines)


def _figure(width: float = 6.4, height: float = 2.6) -> tuple[Figure, object]:
    from matplotlib.figure import Figure  # imported on first use: it costs seconds to load

    fig = Figure(figsize=(width, height), dpi=80, layout="constrained")
    return fig, fig.add_subplot()


def _png_markdown(fig: Figure, title: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"![{title}](data:image/png;base64,{data})"


def bar_chart(labels: Sequence[object], values: Sequence[float], title: str, ylabel: str) -> str:
    """A vertical bar chart, e.g. revenue per hour."""
    fig, ax = _figure()
    ax.bar([_label(x) for x in labels], values, color="#4C72B0")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if len(labels) > 8:
        ax.tick_params(axis="x", labelrotation=60)
    return _png_markdown(fig, title)


def barh_chart(labels: Sequence[object], values: Sequence[float], title: str, xlabel: str) -> str:
    """A horizontal bar chart, largest on top, e.g. the hot products."""
    fig, ax = _figure()
    ax.barh([_label(x) for x in labels][::-1], list(values)[::-1], color="#DD8452")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    return _png_markdown(fig, title)


def line_chart(series: Mapping[str, pd.Series], title: str, ylabel: str) -> str:
    """One line per named series (index on the x axis), e.g. revenue per category per day."""
    fig, ax = _figure()
    for name, s in series.items():
        ax.plot(list(s.index), list(s.values), marker="o", markersize=2, label=_label(name))
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.tick_params(axis="x", labelrotation=30)
    if any(isinstance(s.index[0], date) for s in series.values() if len(s)):
        import matplotlib.dates as mdates

        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    if series:
        ax.legend(fontsize=7)
    return _png_markdown(fig, title)


def scatter_chart(
    x: Sequence[float], y: Sequence[float], title: str, xlabel: str, ylabel: str
) -> str:
    fig, ax = _figure()
    ax.scatter(x, y, s=4, alpha=0.5, color="#55A868")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    return _png_markdown(fig, title)


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str) -> str:
    """Predicted against actual purchases, with the y = x line."""
    import numpy as np

    fig, ax = _figure(5.0, 4.0)
    ax.scatter(actual, predicted, s=10, alpha=0.6)
    hi = float(max(np.max(actual), np.max(predicted), 1.0))
    ax.plot([0, hi], [0, hi], color="grey", linewidth=1, linestyle="--")
    ax.set_xlabel("actual purchases")
    ax.set_ylabel("predicted purchases")
    ax.set_title(title, fontsize=10)
    return _png_markdown(fig, title)


def price_curves(grid: pd.DataFrame, group: str, title: str, max_curves: int = 8) -> str:
    """Predicted purchases against the price ratio, one line per `group` value (the first few)."""
    fig, ax = _figure(6.0, 4.0)
    for key in list(dict.fromkeys(grid[group]))[:max_curves]:
        part = grid[grid[group] == key].sort_values("price_ratio")
        ax.plot(part["price_ratio"], part["predicted"], marker=".", label=_label(key))
    ax.set_xlabel("price / base price")
    ax.set_ylabel("predicted purchases")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return _png_markdown(fig, title)


def gain_chart(
    labels: Sequence[object], gains: Sequence[float], bands: Sequence[float | None], title: str
) -> str:
    """Horizontal bars of expected gains (largest on top) with their ± uncertainty as error bars,
    and a zero line: a bar whose error bar crosses zero is within the model's noise."""
    import numpy as np
    import pandas as pd

    fig, ax = _figure(6.4, 3.2)
    y = np.arange(len(gains))[::-1]
    err = [0.0 if b is None or pd.isna(b) else float(b) for b in bands]
    ax.barh(y, list(gains), xerr=err, color="#55A868", ecolor="#333333", capsize=2)
    ax.set_yticks(y, [_label(x) for x in labels])
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("expected gain per day (± held-out error)", fontsize=8)
    ax.tick_params(labelsize=7)
    return _png_markdown(fig, title)
