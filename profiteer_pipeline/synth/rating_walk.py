"""The rating walk: each product's rating, hour by hour, in integer tenths.

Per the spec, a walk from ``base_rating`` (clamped to [RATING_MIN, RATING_MAX], rounded to 0.1);
each hour a 10% chance (u < 0.1) of a U(-0.2, 0.2) step (drawn from u / 0.1, uniform given the
gate), then clamp and round. The hour's row shows the rating after its step.

**Rating epochs.** A clamped, rounded walk has no closed form, and walking from the start of time
would make an hour's cost grow with the calendar. So the walk restarts from ``base_rating`` at
every epoch anchor, **Monday 00:00 UTC** (``RATING_EPOCH_HOURS`` = 168): an hour's rating is the
walk from its week's anchor, at most 168 steps, computed for all products and weeks at once (a
loop over the 168 offsets of the week, vectorized over everything else). The walk runs on integer
tenths: clamping to [2, 5] and rounding to 0.1 commute because 2 and 5 are on the 0.1 grid, so
``round(clamp(r + U(-0.2, 0.2)), 1)`` is ``clamp(r + rint(10 U))/10`` exactly, except on ties of
probability zero. A consequence to know: ratings (and so views) jump back to ``base_rating`` at
each Monday 00:00 UTC; within a week they wander as in the original.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from profiteer_pipeline.synth.constants import (
    CHUNK_ROWS,
    RATING_EPOCH_HOURS,
    RATING_EPOCH_ORIGIN,
    RATING_MAX,
    RATING_MIN,
    RATING_STEP,
    RATING_STEP_PROBABILITY,
)
from profiteer_pipeline.synth.streams import SHIFT32, STREAMS, TO_UNIT, keyed_bits, uniform

#: The rating bounds in tenths (the walk's clamp).
MIN_TENTHS, MAX_TENTHS = round(RATING_MIN * 10), round(RATING_MAX * 10)


def epoch_start(hour: int) -> int:
    """The hour index of the rating epoch anchor (Monday 00:00 UTC) at or before ``hour``."""
    return hour - (hour - RATING_EPOCH_ORIGIN) % RATING_EPOCH_HOURS


def start_tenths(base_ratings: Sequence[float]) -> np.ndarray:
    """Each walk's start in tenths (int8): ``base_rating`` clamped to the bounds, rounded to 0.1."""
    tenths = [round(round(min(RATING_MAX, max(RATING_MIN, r)), 1) * 10) for r in base_ratings]
    return np.array(tenths, dtype=np.int8)


def _rating_step_of(field: int) -> int:
    """The rating change, in tenths, for one hour's 32-bit draw ``field`` (the spec, literally).

    ``u = field / 2**32``: with probability 0.1 (u < 0.1) a step ``d = U(-0.2, 0.2)`` drawn from
    the same u (u / 0.1 is uniform on [0, 1) given u < 0.1); the rating moves by ``rint(10 d)``
    tenths (rounding to 0.1 and clamping to [2, 5] commute, as 2 and 5 are on the grid).
    """
    u = field * TO_UNIT
    if not u < RATING_STEP_PROBABILITY:
        return 0
    return round(uniform(-RATING_STEP, RATING_STEP, u / RATING_STEP_PROBABILITY) * 10)


def _rating_thresholds() -> np.ndarray:
    """The smallest 32-bit draws giving steps of at least -1, 0, +1, +2 tenths, and the gate.

    ``_rating_step_of`` is monotone below the gate (every float operation in it is), so four
    comparisons against these thresholds reproduce it exactly for every draw.
    """
    near = int(RATING_STEP_PROBABILITY * 2**32)
    gate = next(f for f in range(near - 8, near + 8) if not f * TO_UNIT < RATING_STEP_PROBABILITY)
    thresholds = []
    for k in (-1, 0, 1, 2):
        low, high = 0, gate
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if _rating_step_of(mid) >= k else (mid + 1, high)
        thresholds.append(low)
    return np.array([*thresholds, gate], dtype=np.uint32)


_RATING_THRESHOLDS = _rating_thresholds()


def rating_steps(pkeys: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Each hour's rating change in tenths (int8, shape (hours, products)); ``hours`` start even.

    One 64-bit draw per product and pair of hours (2j, 2j+1): the high 32 bits are hour 2j's,
    the low 32 bits hour 2j+1's. ``_rating_step_of`` maps a draw to its step.
    """
    assert hours[0] % 2 == 0 and len(hours) % 2 == 0
    bits = keyed_bits(pkeys, hours[::2] // 2, STREAMS["rating"])
    field = np.empty((len(bits), 2, len(pkeys)), dtype=np.uint32)
    field[:, 0] = bits >> SHIFT32
    field[:, 1] = bits  # the low 32 bits (casting keeps them)
    field = field.reshape(len(hours), len(pkeys))
    t_minus1, t_zero, t_plus1, t_plus2, gate = _RATING_THRESHOLDS
    step = (field >= t_minus1).view(np.int8)
    step = step + (field >= t_zero).view(np.int8)
    step += (field >= t_plus1).view(np.int8)
    step += (field >= t_plus2).view(np.int8)
    step -= 2
    step *= field < gate
    return step


def rating_tenths(
    pkeys: np.ndarray, start_tenths: np.ndarray, first: int, hours: int
) -> np.ndarray:
    """Ratings in tenths (int8), shape (hours, products), for hours ``first .. first+hours-1``.

    Each hour's step is drawn from its own key; the walk restarts at every epoch anchor, so the
    work is the request plus at most one epoch on each side, whatever the date.
    """
    begin = epoch_start(first)
    epochs = -(-(first + hours - begin) // RATING_EPOCH_HOURS)
    span = epochs * RATING_EPOCH_HOURS
    n = len(pkeys)
    step = np.empty((span, n), dtype=np.int8)
    size = max(2, CHUNK_ROWS // n // 2 * 2)  # even: hours come in pairs per draw
    for a in range(0, span, size):
        b = min(a + size, span)
        step[a:b] = rating_steps(pkeys, np.arange(begin + a, begin + b, dtype=np.int64))
    # Walk all epochs at once: offset-major layout, so each of the 168 steps is one contiguous slab.
    step = np.ascontiguousarray(step.reshape(epochs, RATING_EPOCH_HOURS, n).transpose(1, 0, 2))
    walk = np.empty_like(step)
    previous = np.broadcast_to(start_tenths.astype(np.int8), (epochs, n))
    for offset in range(RATING_EPOCH_HOURS):  # bounded: 168 vector steps, whatever the calendar
        here = walk[offset]
        np.add(previous, step[offset], out=here)
        np.maximum(here, MIN_TENTHS, out=here)
        np.minimum(here, MAX_TENTHS, out=here)
        previous = here
    skip = first - begin
    return walk.transpose(1, 0, 2).reshape(span, n)[skip : skip + hours]
