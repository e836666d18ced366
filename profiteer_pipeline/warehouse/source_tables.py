"""The tables a model run writes in its source's schema, one declaration each (`MetricTable`): an
import's in `import_<name>`, the simulated shop's in `shop_model` (`in_schema` places them).

`price_advice` is the one contract of what a source's advice says, per product (status, today's
and the best price with the units per day at each, the move's gain per day with its 90 % range,
the elasticity with its 90 % interval, the guardrail that bound the price, the note, the rule
that kept a price): the app, the CSV export and outside checks read it, whichever source wrote
it. The advice builds its rows from these columns (`advice_table`), so the rows and the table
cannot drift apart.

Pure (psycopg2.sql only: no Dagster, numpy or pandas), so the code location loads it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping

from profiteer_pipeline.model.figures import METRIC_FIELDS
from profiteer_pipeline.warehouse.metrics.declaration import Column, MetricTable

#: price_advice.status: a best price; no price change advised (the model does not beat the
#: baseline, the curve does not fall, or the elasticity's interval does not lie below zero); no
#: curve at all; not merchandise (postage, fees: `merchandise.py`).
STATUSES = ("advice", "no_change", "too_little_data", "excluded")

#: price_advice.reason: the rule that kept a product's price, a code per rule and what it means
#: (NULL where a price is advised), so the app, the CSV and outside checks can count and filter
#: them; the note says the same for a person, with the product's figures.
REASONS = {
    "model_loses": "the model does not beat its baseline",
    "curve_does_not_fall": "the curve does not fall with the price",
    "no_evidence": "no evidence that price moves its demand",
    "cannot_tell": "the data cannot tell which way earns more",
    "disagree": "the curve and its own elasticity disagree",
    "already_best": "today's price already is the best",
    "small_gain": "the gain is below the guardrails' minimum",
    "too_little_data": "too little data for a price curve",
    "not_modelled": "not modelled in this training",
    "not_merchandise": "not merchandise",
}


def _listed(values) -> str:
    """`'a', 'b'`: the values of a CHECK (... IN (...)), quoted."""
    return ", ".join(f"'{value}'" for value in values)


#: What a `no_change` row leaves empty (it keeps the units and revenue at the base price).
NO_PRICE = (
    "best_price",
    "units_per_day_at_best",
    "revenue_per_day_at_best",
    "revenue_uplift_pct",
    "guardrail",
    "profit_per_day_at_best",
    "gain_per_day_low",
    "gain_per_day_high",
)

ADVICE_COLUMNS = {
    "product_id": "text NOT NULL",
    "product_name": "text",
    "category": "text",
    "base_price": "numeric(18, 4) NOT NULL",
    "best_price": "numeric(18, 4)",
    "units_per_day_at_base": "double precision",
    "units_per_day_at_best": "double precision",
    "revenue_per_day_at_base": "double precision",
    "revenue_per_day_at_best": "double precision",
    "revenue_uplift_pct": "double precision",
    "sale_hours": "integer NOT NULL",
    "price_points": "integer NOT NULL",
    "status": f"text NOT NULL CHECK (status IN ({_listed(STATUSES)}))",
    "note": "text NOT NULL",
    "elasticity": "double precision",
    "elasticity_low": "double precision",
    "elasticity_high": "double precision",
    "elasticity_source": "text",
    "current_price": "numeric(18, 4)",
    "units_per_day_at_current": "double precision",
    "revenue_per_day_at_current": "double precision",  # what a move is measured against
    "guardrail": "text",
    "unit_cost": "numeric(18, 4)",
    "profit_per_day_at_current": "double precision",
    "profit_per_day_at_best": "double precision",
    "objective": "text NOT NULL CHECK (objective IN ('revenue', 'profit'))",
    # the move's gain per day in the objective, 90 % range (`advice_table.gain_range`)
    "gain_per_day_low": "double precision",
    "gain_per_day_high": "double precision",
    "reason": f"text CHECK (reason IN ({_listed(REASONS)}))",
}

#: Per product and price: the model's expected units and revenue per day.
CURVE_COLUMNS = {
    "product_id": "text NOT NULL",
    "price": "numeric(18, 4) NOT NULL",
    "price_ratio": "double precision NOT NULL",
    "units_per_day": "double precision NOT NULL",
    "revenue_per_day": "double precision NOT NULL",
}

EVALUATION_COLUMNS = {
    "model": "text NOT NULL",
    "model_version": "integer NOT NULL",
    "trained_at": "timestamptz NOT NULL",
    "training_rows": "integer NOT NULL",
    "products_modelled": "integer NOT NULL",
    "selection": "text NOT NULL",  # which products and days were modelled, and every cap
    "held_out_from": "timestamptz",  # the first fold's first day
    "held_out_rows": "integer NOT NULL",  # product-days scored, over all folds
    "folds": "integer NOT NULL",
    **{field: "double precision" for field in METRIC_FIELDS},
    "beats_baseline": "boolean NOT NULL",
    "price_response_ok": "boolean NOT NULL",
    "pooled_elasticity": "double precision",
    "pooled_elasticity_low": "double precision",
    "pooled_elasticity_high": "double precision",
    "elasticity_products": "integer NOT NULL",
}


def declared(
    name: str, columns: Mapping[str, str], key: tuple[str, ...], description: str
) -> MetricTable:
    """A model table rebuilt whole by its run, from its columns (name -> type)."""
    return MetricTable(
        name,
        role="model",
        description=description,
        columns=tuple(Column(c, ddl) for c, ddl in columns.items()),
        key=key,
        preview_order=key,
    )


PRICE_ADVICE = declared(
    "price_advice",
    ADVICE_COLUMNS,
    ("product_id",),
    "Per product: the advice (a best price, no change, too little data, or not merchandise) "
    "with today's and the best price, the expected units and revenue per day at each, the "
    "move's gain per day with its 90 % range, the elasticity with its 90 % interval, the "
    "guardrail that bound the price and the reason.",
)
PRICE_CURVES = declared(
    "price_curves",
    CURVE_COLUMNS,
    ("product_id", "price"),
    "Per product: the model's expected units and revenue per day over the prices it sold at.",
)
MODEL_EVALUATION = declared(
    "model_evaluation",
    EVALUATION_COLUMNS,
    ("model_version",),
    "The latest training: its out-of-sample backtest against the naive forecasts, what was "
    "modelled, the price-response check and the pooled elasticity.",
)
#: What an import's model run replaces together, in one transaction.
IMPORT_RESULTS = {t.name: t for t in (PRICE_CURVES, PRICE_ADVICE, MODEL_EVALUATION)}
