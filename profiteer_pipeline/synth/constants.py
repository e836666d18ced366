"""The generator's constants, declared once: the spec's parameters (SEED-GENERATOR.md) and the
floors and ranges every generated row keeps.

The warehouse's quality checks (``profiteer_pipeline.warehouse.quality``) and the catalog model
import the floors and ranges from here, so changing one is one edit.
"""

from __future__ import annotations

# --- floors and ranges of a row (the warehouse checks them) ----------------------------------------

#: A rating (and a product's ``base_rating``) stays within [RATING_MIN, RATING_MAX].
RATING_MIN, RATING_MAX = 2.0, 5.0
#: ``views >= VIEWS_FLOOR``, ``cart_adds >= CART_FLOOR``, ``purchases >= PURCHASE_FLOOR``.
VIEWS_FLOOR, CART_FLOOR, PURCHASE_FLOOR = 100, 1, 1
#: ``current_price`` is rounded to cents after clamping to [min_price, max_price].
PRICE_DECIMALS = 2
#: ``popularity_factor`` is shown rounded to 2 decimals (the unrounded value feeds the views).
POPULARITY_DECIMALS = 2

# --- the original generator's parameters -----------------------------------------------------------

#: Each hour, with this probability, the rating moves by U(-RATING_STEP, RATING_STEP).
RATING_STEP_PROBABILITY = 0.1
RATING_STEP = 0.2
#: ``rf = ((rating - RATING_MIN) / (RATING_MAX - RATING_MIN)) ** RF_EXPONENT * RF_SCALE``.
RF_EXPONENT, RF_SCALE = 0.9, 1.8
BASE_VIEWS_RANGE = (8000, 12000)  # inclusive
POPULARITY_NOISE = (0.95, 1.05)
CART_RATE = (0.045, 0.055)
PURCHASE_RATE = (0.16, 0.19)
PRICE_SENSITIVITY = 0.1  # of base price
DEMAND_STEEPNESS = 2.0
STRATEGY_BOUNDS = {"aggressive": (0.85, 1.05), "random": (0.9, 1.1)}
MODERATE_SIGMA = 0.05  # of base price

# --- this generator's choices ----------------------------------------------------------------------

#: The rating walk restarts from ``base_rating`` every week (see ``rating_walk``).
RATING_EPOCH_HOURS = 168
#: Hours from 1970-01-01 00:00 UTC (a Thursday) to the first Monday 00:00 UTC (1970-01-05).
RATING_EPOCH_ORIGIN = 96

#: Rows per vectorized chunk: small enough that the temporaries stay in cache and are reused.
CHUNK_ROWS = 32_768
