"""The time-of-day buckets of a UTC hour and their views factors (SEED-GENERATOR.md)."""

from __future__ import annotations

import numpy as np

#: (name, views factor) of each UTC hour of the day.
BUCKETS = ("Overnight", "Morning", "Afternoon", "Evening")
BUCKET_FACTORS = {"Overnight": 0.5, "Morning": 0.8, "Afternoon": 1.5, "Evening": 1.0}


def bucket_of_hour(hour: int) -> str:
    """Overnight 22:00-05:59, Morning 06-11, Afternoon 12-17, Evening 18-21."""
    if 6 <= hour < 12:
        return "Morning"
    if 12 <= hour < 18:
        return "Afternoon"
    if 18 <= hour < 22:
        return "Evening"
    return "Overnight"


#: UTC hours of each bucket in a day (Overnight 8, Morning 6, Afternoon 6, Evening 4).
HOURS_PER_DAY = {b: sum(bucket_of_hour(h) == b for h in range(24)) for b in BUCKETS}

_BUCKET_OF_HOUR = np.array([BUCKETS.index(bucket_of_hour(h)) for h in range(24)], dtype=np.int8)
_FACTOR_OF_HOUR = np.array([BUCKET_FACTORS[bucket_of_hour(h)] for h in range(24)])
_BUCKET_NAMES = np.array(BUCKETS, dtype=object)


def bucket_names(hours: np.ndarray) -> np.ndarray:
    """The bucket name (object array) of each hour index (hours since 1970-01-01 00:00 UTC)."""
    return _BUCKET_NAMES[_BUCKET_OF_HOUR[hours % 24]]


def time_factors(hours: np.ndarray) -> np.ndarray:
    """The views factor of each hour index's bucket."""
    return _FACTOR_OF_HOUR[hours % 24]
