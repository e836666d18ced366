"""Small PNG charts for the Dagster UI (embedded in markdown metadata as data URLs)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd


def _figure(width: float = 5.0, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=80)


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str) -> bytes:
    """Scatter of predicted against actual purchases, with the y = x line."""
    plt, fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(actual, predicted, s=10, alpha=0.6)
    hi = float(max(np.max(actual), np.max(predicted), 1.0))
    ax.plot([0, hi], [0, hi], color="grey", linewidth=1, linestyle="--")
    ax.set_xlabel("actual purchases")
    ax.set_ylabel("predicted purchases")
    ax.set_title(title, fontsize=10)
    return _png(plt, fig)


def price_curves(grid: pd.DataFrame, group: str, title: str, max_curves: int = 8) -> bytes:
    """Predicted purchases against the price ratio, one line per `group` value (the first few)."""
    plt, fig = _figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for key in list(dict.fromkeys(grid[group]))[:max_curves]:
        part = grid[grid[group] == key].sort_values("price_ratio")
        ax.plot(part["price_ratio"], part["predicted"], marker=".", label=str(key))
    ax.set_xlabel("price / base price")
    ax.set_ylabel("predicted purchases")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return _png(plt, fig)


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
