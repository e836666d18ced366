"""The evidence rule every source's advice answers to, per product and per time of day: a move
stands only where the product's own 90 % elasticity interval lies below zero and backs the
move's direction against the break-even elasticity; and the words that say why not, with the
rule's code (`source_tables.REASONS`). Pure pandas/numpy: `advice_table` (every source's
advice per product) and `model.recommendations` (the shop's by time of day) apply it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiteer_pipeline.model import elasticity


def break_even_elasticity(out: pd.DataFrame) -> pd.Series:
    """The elasticity at which the objective neither rises nor falls with the price: -1 for
    revenue; -price / (price - cost) for profit, at today's margin (none while below cost)."""
    now = out["current_price"].astype(float)
    margin = ((now - out["unit_cost"].astype(float)) / now).where(out["unit_cost"].notna(), 1.0)
    return (-1.0 / margin).where(margin > 0, -np.inf)


def direction_supported(out: pd.DataFrame) -> pd.Series:
    """Whether the product's own elasticity interval backs the direction of its advised move:
    a higher price earns more only where demand is less elastic than the break-even (the whole
    interval above it), a lower price only where it is more elastic (the whole interval below).

    Why: the curve's optimum says which way to move, but a sparse product's curve can point
    either way; on a year of 4,000 products with known elasticities only 60 % of such moves
    raised the true revenue, and 96 % of those this rule lets through
    (`benchmarks/bench_import_year.py`)."""
    move = out["best_price"].astype(float) - out["current_price"].astype(float)
    threshold = break_even_elasticity(out)
    up = (move > 0) & (out["elasticity_low"].astype(float) > threshold)
    down = (move < 0) & (out["elasticity_high"].astype(float) < threshold)
    return (move == 0) | up | down


def unsupported(out: pd.DataFrame, moving: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    """The evidence rule, on the rows `moving` of `out` (a best and today's price, the objective,
    a unit cost and the product's `ELASTICITY_COLUMNS` per row): those whose product's own
    interval does not lie below zero (`elasticity.shows_response`) or does not back the move's
    direction (`direction_supported`), and why: one note and one `REASONS` code per such row."""
    unproven = moving & ~elasticity.shows_response(out).to_numpy()
    unsure = moving & ~unproven & ~direction_supported(out).to_numpy()
    unbacked = unproven | unsure
    threshold = break_even_elasticity(out)[unbacked]
    notes, reasons = [], []
    for r, limit, no_evidence in zip(
        out[unbacked].itertuples(index=False), threshold, unproven[unbacked], strict=True
    ):
        if no_evidence:
            notes.append(no_evidence_note(r.elasticity, r.elasticity_low, r.elasticity_high,
                                          r.elasticity_source))  # fmt: skip
            reasons.append("no_evidence")
            continue
        move = r.best_price - r.current_price
        notes.append(direction_note(move, limit, r.objective, r.elasticity, r.elasticity_low,
                                    r.elasticity_high))  # fmt: skip
        contrary = against(move, limit, r.elasticity_low, r.elasticity_high)
        reasons.append("disagree" if contrary else "cannot_tell")
    return unbacked, notes, reasons


def against(move: float, threshold: float, low: float, high: float) -> bool:
    """Whether the whole interval [low, high] says the move earns less: below the break-even
    `threshold` for a rise, above it for a cut."""
    return bool(high < threshold) if move > 0 else bool(low > threshold)


def direction_note(
    move: float, threshold: float, objective: str, value: float, low: float, high: float
) -> str:
    """Why a product whose curve falls and whose price moves demand still gets no price: its
    interval straddles the break-even `threshold`, or lies wholly on the other side of it, where
    the product's own elasticity says the curve's move earns less (on a generated year with
    known elasticities the elasticity was right in 95 % of such disagreements:
    `benchmarks/bench_import_year.py`)."""
    word, side = ("higher", "above") if move > 0 else ("lower", "below")
    where = " at today's margin" if objective == "profit" else ""
    interval = f"{value:.2f} (90 % interval {low:.2f} to {high:.2f})"
    if against(move, threshold, low, high):
        other = "below" if move > 0 else "above"
        return (
            f"The model's curve and this product's elasticity disagree: the curve earns most "
            f"{objective} at a {word} price, but the elasticity, {interval}, lies wholly {other} "
            f"the break-even {threshold:.2f}{where}, where a {word} price earns less. No change."
        )
    return (
        f"The data cannot tell whether a {word} price earns more {objective}: that needs an "
        f"elasticity {side} {threshold:.2f}{where}, and this product's is {interval}."
    )


def no_evidence_note(value: float, low: float, high: float, source: str | None) -> str:
    """Why a product whose curve falls still gets no price: its elasticity's interval."""
    if value is None or pd.isna(value):
        return (
            "No evidence that price moves demand: no elasticity could be estimated (too few "
            "sale days at different offered prices)."
        )
    if source != "own":
        return (
            "No evidence of this product's own price response: its offered price never moved "
            f"enough on enough sale days. The shop's pooled elasticity is {value:.2f} (90 % "
            f"interval {low:.2f} to {high:.2f}), but that is the shop's, not this product's."
        )
    return (
        f"No evidence that price moves demand: elasticity {value:.2f}, 90 % interval "
        f"{low:.2f} to {high:.2f}, which does not lie below zero."
    )
