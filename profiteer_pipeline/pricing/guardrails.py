"""The shop's guardrails on a recommended price, and the one that bound each recommendation.

Pure (numpy, imported where it is used; the standard library's TOML reader): every source's
advice, the shop's by time of day, the app, the tests and the README's example share it. The
shop sets them in `<state folder>/guardrails.toml` (`FILE_NAME`); a missing file means the
defaults:

    max_step_pct = 10        # the most a price may move from today's in one step, either way
    range_margin_pct = 5     # how far beyond the lowest and highest price tested it may go
    min_margin_pct = 0       # with a unit cost: never below cost x (1 + this)
    min_gain_pct = 1         # a change must gain at least this % of today's revenue (profit)
    price_ending = "0.99"    # optional: snap to the nearest price ending in .99 within the bounds

A recommendation is the revenue- (with costs: profit-) maximizing price on the product's demand
line, then held inside the tested range (widened by the margin), then inside the step from
today's price, then at or above the minimum margin (which outranks the step), then inside the
catalog's price bounds where the source has a catalog (which outrank everything: the shop allows
no price outside them), then snapped to the ending. `guardrail` names the last of these that
moved it ("none" when none did). A move
whose predicted gain over today's price is below `min_gain_pct` is no change: on UCI's sample,
four of the ten moves the evidence backed would have gained 0.02-0.5 %.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported in each function: importing this module costs no numpy

FILE_NAME = "guardrails.toml"
NONE = "none"
TESTED_RANGE = "tested range"
CATALOG_BOUNDS = "catalog bounds"
PRICE_ENDING = "price ending"
KEYS = ("max_step_pct", "range_margin_pct", "min_margin_pct", "min_gain_pct")


class GuardrailsError(ValueError):
    """The guardrails file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Guardrails:
    max_step_pct: float = 10.0
    range_margin_pct: float = 5.0
    min_margin_pct: float = 0.0
    min_gain_pct: float = 1.0
    price_ending: str | None = None  # e.g. "0.99", "0.95", "0.00"

    @property
    def step_label(self) -> str:
        return f"max step ±{self.max_step_pct:g} %"

    @property
    def margin_label(self) -> str:
        return f"min margin {self.min_margin_pct:g} %"

    def describe(self) -> str:
        ending = f", prices ending in {self.price_ending}" if self.price_ending else ""
        return (
            f"at most ±{self.max_step_pct:g} % from today's price per step, within "
            f"{self.range_margin_pct:g} % of the prices tested, at least {self.min_margin_pct:g} "
            f"% above the unit cost where known, a change only for a gain of at least "
            f"{self.min_gain_pct:g} %{ending}"
        )


DEFAULT = Guardrails()


def load(path: Path) -> Guardrails:
    """The guardrails in `path` (TOML), the defaults for what it leaves out; the defaults when
    the file does not exist. GuardrailsError names the file and the key it cannot use."""
    if not path.exists():
        return DEFAULT
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GuardrailsError(f"{path.name}: not valid TOML ({exc})") from None
    known = {*KEYS, "price_ending"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GuardrailsError(
            f"{path.name}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    values = {}
    for key in KEYS:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise GuardrailsError(f"{path.name}: {key} must be a number >= 0, not {value!r}")
            values[key] = float(value)
    if "price_ending" in raw:
        ending = raw["price_ending"]
        if not isinstance(ending, str) or not _valid_ending(ending):
            raise GuardrailsError(
                f"{path.name}: price_ending must be the cents a price ends in, such as "
                f'"0.99", not {ending!r}'
            )
        values["price_ending"] = ending
    return Guardrails(**values)


def _valid_ending(ending: str) -> bool:
    try:
        cents = float(ending)
    except ValueError:
        return False
    return 0 <= cents < 1


def bound(
    optimum: np.ndarray,
    current: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    rails: Guardrails = DEFAULT,
    cost: np.ndarray | None = None,
    catalog: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(price, guardrail) per product: the `optimum` held inside the tested range [low, high]
    widened by the margin, then inside the step from `current`, then at or above `cost` (NaN:
    unknown) plus the minimum margin, then inside the `catalog`'s (min, max) price bounds where
    the source has them (NaN: none), then snapped to the ending within all of these. Where the
    step and the range do not overlap, the step wins (the price moves toward the tested range by
    at most one step); the margin outranks both, and the catalog everything."""
    import numpy as np

    optimum, current = np.asarray(optimum, float), np.asarray(current, float)
    margin = rails.range_margin_pct / 100
    in_range = np.clip(optimum, np.asarray(low) * (1 - margin), np.asarray(high) * (1 + margin))
    step = rails.max_step_pct / 100
    lo, hi = current * (1 - step), current * (1 + step)
    price = np.clip(in_range, lo, hi)
    guardrail = np.where(
        ~np.isclose(price, in_range),
        rails.step_label,
        np.where(~np.isclose(in_range, optimum), TESTED_RANGE, NONE),
    ).astype(object)
    if cost is not None:
        floor = np.asarray(cost, float) * (1 + rails.min_margin_pct / 100)
        lifted = np.isfinite(floor) & (price < floor - 1e-9)
        price = np.where(lifted, floor, price)
        guardrail[lifted] = rails.margin_label
        lo = np.where(np.isfinite(floor), np.maximum(lo, floor), lo)
        hi = np.maximum(hi, lo)
    if catalog is not None:
        least, most = (np.asarray(b, float) for b in catalog)
        least, most = (
            np.where(np.isfinite(least), least, -np.inf),
            np.where(np.isfinite(most), most, np.inf),
        )
        held = np.clip(price, least, most)
        guardrail[~np.isclose(held, price)] = CATALOG_BOUNDS
        price = held
        lo, hi = np.clip(lo, least, most), np.clip(hi, least, most)
    if rails.price_ending:
        snapped = snap(price, rails.price_ending, lo, hi)
        moved = ~np.isclose(snapped, price) & (guardrail == NONE)
        guardrail[moved] = PRICE_ENDING
        price = snapped
    return np.round(price, 2), guardrail


def snap(price: np.ndarray, ending: str, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The nearest price ending in `ending` inside [lo, hi]; the price itself where none is."""
    import numpy as np

    cents = float(ending)
    below = np.floor(price - cents) + cents
    candidates = np.stack([below, below + 1.0])
    inside = (candidates >= lo - 1e-9) & (candidates <= hi + 1e-9)
    distance = np.where(inside, np.abs(candidates - price), np.inf)
    best = candidates[np.argmin(distance, axis=0), np.arange(len(price))]
    return np.where(np.isfinite(distance.min(axis=0)), best, price)
