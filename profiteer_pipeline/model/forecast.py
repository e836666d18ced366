"""The import's model after training: its honest evaluation, its price curves and the advice, and
the tables the app reads (`price_curves`, `price_advice`, `model_evaluation`, beside
`model_features`, all in the import's schema).

Pure module (no Dagster): the asset, the tests and the benchmark call it.

- The model: `ModelSpec` named `<schema>_forecast` (e.g. `import_online_retail_forecast`) on the
  warehouse datasource the simulated shop's model uses, trained on `<schema>.model_features`
  (one row per product-day) by the count model every source trains (`model.engine`: MindsDB
  hosts `model.count_model` as a BYOM engine).
- Evaluation and the week-ahead forecast (`backtesting`): a rolling-origin backtest of the
  held-out twin at product-day, against the seasonal naive and the 28-day mean.
- Curves and advice (`price_curves`, `advice_table`): predicted here for a grid of prices per product; the
  table `price_curves` holds the model's own predictions, `price_advice` the best prices read
  off them: only when the model beats the 28-day mean, and only for curves that fall with the
  price (status `no_change` with the reason otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd
from psycopg2 import sql as pgsql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.model import backtest_twins as backtesting
from profiteer_pipeline.model import daily_features as mf
from profiteer_pipeline.model import elasticity, engine, evaluation, grain, held_out
from profiteer_pipeline.model import training as training_mod
from profiteer_pipeline.model.client import Datasource, MindsDBClient
from profiteer_pipeline.model.spec import HOLDOUT_SUFFIX, ModelSpec
from profiteer_pipeline.pricing import advice_table as at
from profiteer_pipeline.pricing import curves as pc
from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.sources.files import costs, merchandise, tables
from profiteer_pipeline.warehouse import grants
from profiteer_pipeline.warehouse import source_tables as st
from profiteer_pipeline.warehouse.metrics.declaration import MetricTable

DATASOURCE = "profiteer_warehouse"  # the simulated shop's model's datasource (the model login)
FEATURES_TABLE = mf.MODEL_FEATURES.name


# --- the model -----------------------------------------------------------------------------


def import_spec(schema: str, lightwood: bool = False) -> ModelSpec:
    """The import's model: `<schema>_forecast` on `<schema>.model_features`, the count model
    every source trains (`model.engine`); `lightwood` gives lightwood's mixers the same rows
    instead (the benchmark's comparison)."""
    spec = ModelSpec(
        name=f"{schema}_forecast",
        datasource=DATASOURCE,
        table=FEATURES_TABLE,
        schema=schema,
        target=mf.TARGET,
        features=mf.FEATURES,
        ts_column=mf.TS_COLUMN,
        key_columns=mf.KEY,
        extra=engine.using(mf.CATEGORICAL),
    )
    return spec.lightwood() if lightwood else spec


def holdout_spec(spec: ModelSpec) -> ModelSpec:
    """The held-out twin; a shorter suffix where the name would pass 63 characters."""
    suffix = HOLDOUT_SUFFIX if len(spec.name) + len(HOLDOUT_SUFFIX) <= 63 else "_ho"
    return spec.with_name(spec.name + suffix)


# --- the evaluation row ---------------------------------------------------------------------


def evaluation_row(
    spec: ModelSpec,
    version: int,
    trained_at: datetime,
    training_rows: int,
    selection: mf.Selection,
    result: held_out.Evaluation,
    price_response_ok: bool,
    pooled: elasticity.Pooled,
) -> pd.DataFrame:
    """The single row of `model_evaluation`."""
    return evaluation.evaluation_row(
        model=spec.qualified_name,
        model_version=int(version),
        trained_at=pd.Timestamp(trained_at),
        training_rows=int(training_rows),
        products_modelled=len(selection.products),
        selection=selection.reason,
        held_out_from=result.held_out_from,
        held_out_rows=int(result.rows),
        folds=result.folds,
        **result.figures,
        beats_baseline=result.beats_baseline,
        price_response_ok=bool(price_response_ok),
        pooled_elasticity=pooled.elasticity,
        pooled_elasticity_low=pooled.low,
        pooled_elasticity_high=pooled.high,
        elasticity_products=pooled.products,
    )


# --- tables --------------------------------------------------------------------------------


def _replace(conn: PgConnection, table: MetricTable, frame: pd.DataFrame) -> None:
    """Drop and create `table` (in its schema), COPY `frame`, then add the key (one index build
    is faster than keeping it up to date during the load)."""
    with conn.cursor() as cur:
        cur.execute(pgsql.SQL("DROP TABLE IF EXISTS {}").format(table.identifier))
        cur.execute(table.create_sql(keyed=False))
    tables.copy_arrow(conn, table.schema, table.name, frame[table.column_names])
    with conn.cursor() as cur:
        cur.execute(table.primary_key_sql)


def write_features(conn: PgConnection, schema: str, frame: pd.DataFrame, model_user: str) -> int:
    """Replace `<schema>.model_features` and let MindsDB's login read it (usage of the schema,
    select on this one table); in the caller's transaction, which must commit before training."""
    _replace(conn, mf.MODEL_FEATURES.in_schema(schema), frame)
    with conn.cursor() as cur:
        grants.grant_schema(cur, schema, model=model_user, model_tables=(FEATURES_TABLE,))
    return len(frame)


def write_results(
    conn: PgConnection,
    schema: str,
    curve: pd.DataFrame,
    advice_rows: pd.DataFrame,
    evaluation_rows: pd.DataFrame,
) -> dict[str, int]:
    """Replace `price_curves`, `price_advice` and `model_evaluation` together, in the caller's
    transaction (the app sees the old three or the new three, never a mix)."""
    frames = {
        "price_curves": curve,
        "price_advice": advice_rows,
        "model_evaluation": evaluation_rows,
    }
    for name, table in st.IMPORT_RESULTS.items():
        _replace(conn, table.in_schema(schema), frames[name])
    return {table: len(frame) for table, frame in frames.items()}


# --- one training, end to end (the asset and the benchmark) --------------------------------


class NothingToModel(ValueError):
    """The import has no product with enough data for a price model; the message says why."""


@dataclass
class ForecastRun:
    """What one training did and found: the asset's metadata and the benchmark's figures."""

    spec: ModelSpec
    selection: mf.Selection
    evidence: pd.DataFrame
    training_rows: int
    result: held_out.Evaluation
    training: training_mod.TrainingResult
    curve: pd.DataFrame
    advice: pd.DataFrame
    verdict: evaluation.PriceResponse
    elasticities: elasticity.Elasticities
    excluded: pd.DataFrame  # merchandise.COLUMNS
    density: grain.Density  # how densely its merchandise sells: the grain it supports
    written: dict[str, int]
    datasource: str
    seconds: dict[str, float]


def _read(conn: PgConnection, query: pgsql.Composable, params=None) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query.as_string(conn), params)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _table(text: str, schema: str, table: str) -> pgsql.Composable:
    return pgsql.SQL(text).format(pgsql.Identifier(schema, table))


def read_inputs(conn: PgConnection, schema: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(products, sale hours): the two small reads that decide what is modelled."""
    products = _read(conn, _table("SELECT * FROM {} ORDER BY product_id", schema, "products"))
    sold = _read(
        conn,
        _table(
            'SELECT product_id, "timestamp", units, revenue, avg_price FROM {} WHERE units > 0',
            schema,
            "sales",
        ),
    )
    return products, sold


def read_sale_lines(conn: PgConnection, schema: str, excluded: list[str]) -> pd.DataFrame:
    """product_id, day (UTC), quantity, unit_price of every sale line of a merchandise product:
    what the elasticities are estimated from."""
    return _read(
        conn,
        _table(
            "SELECT product_id, date_trunc('day', hour AT TIME ZONE 'UTC') AS day, quantity,"
            " unit_price FROM {} WHERE kind = 'sale' AND NOT product_id = ANY(%s)",
            schema,
            "order_lines",
        ),
        (excluded,),
    )


def elasticities(
    lines: pd.DataFrame, schema: str, log: Callable[[str], None]
) -> elasticity.Elasticities:
    """Each merchandise product's elasticity with its interval, and the shop's pooled one."""
    found = elasticity.estimate(elasticity.daily_panel(lines))
    log(f"{schema}: {found.pooled.summary()} ({found.rows:,} product-days)")
    return found


def run(
    client: MindsDBClient,
    connect: Callable[[], AbstractContextManager[PgConnection]],
    schema: str,
    *,
    model_user: str,
    ensure_datasource: Callable[[MindsDBClient, str], Datasource],
    timeout: float = 1800.0,
    log: Callable[[str], None] = print,
    row_budget: int = mf.ROW_BUDGET,
    predict_batch: int = 10_000,
    non_merchandise: tuple[str, ...] = (),
    rails: guardrails.Guardrails = guardrails.DEFAULT,
    lightwood: bool = False,
) -> ForecastRun:
    """Features, the backtest (twins trained before each fold), the model and its forecast for
    the coming week, its curves, the elasticities and the advice within the guardrails (profit
    where unit costs are stored), and the tables, for the import in `schema`. NothingToModel
    when no product qualifies; MindsDB's own errors (MindsDBError) pass through."""
    clock: dict[str, float] = {}
    t = time.monotonic()

    def lap(part: str) -> None:
        nonlocal t
        clock[part] = round(time.monotonic() - t, 2)
        t = time.monotonic()

    with connect() as conn:
        products, sold = read_inputs(conn, schema)
    if sold.empty:
        raise NothingToModel(f"{schema}.sales has no sale: nothing to model")
    ev = mf.evidence(sold, products)
    excluded = merchandise.excluded(products, non_merchandise)
    if not excluded.empty:
        out = ev["product_id"].isin(excluded["product_id"])
        ev.loc[out, "eligible"] = False
        log(f"{schema}: not priced (not merchandise): {', '.join(excluded['product_id'])}")
    first = pd.to_datetime(sold["timestamp"], utc=True).min()
    last = pd.to_datetime(products["last_hour"], utc=True).max()
    pick = mf.select(ev, first, last, row_budget=row_budget)
    dense = grain.density(sold[~sold["product_id"].isin(excluded["product_id"])], last)
    pick = replace(pick, reason=f"{pick.reason}; {dense.phrase(grain.DAY)}")
    log(f"{schema}: {pick.reason}")
    if not pick.products:
        raise NothingToModel(
            f"{schema}: no product has enough data for a price model (each needs at least "
            f"{mf.MIN_SALE_HOURS} hours with sales and {mf.MIN_PRICE_POINTS} prices paid that "
            f"differ by at least {mf.MIN_PRICE_SPREAD - 1:.0%}); {len(products)} products, "
            f"{int(ev['sale_hours'].max() or 0)} sale hours at most"
        )
    with connect() as conn:
        lines = read_sale_lines(conn, schema, list(excluded["product_id"]))
    modelled = lines[lines["product_id"].isin(pick.products)]
    panel = elasticity.daily_panel(modelled, last_day=pick.until.tz_convert(None))
    rows = mf.build(panel, products, since=pick.since)
    with connect() as conn, conn:
        write_features(conn, schema, rows, model_user)
    log(f"{schema}.{FEATURES_TABLE}: {len(rows):,} rows, {len(pick.products)} products")
    source = ensure_datasource(client, DATASOURCE)
    spec = import_spec(schema, lightwood).reading(source.name)
    twin = holdout_spec(spec)
    log(f"datasource {source.name}: {source.state}; engine {spec.engine}")
    lap("features")

    result = backtesting.evaluate(
        client, twin, rows, timeout=timeout, log=log, predict_batch=predict_batch
    )
    log(result.summary())
    lap("evaluation")

    final = training_mod.train(client, spec, timeout=timeout, log=log)
    trained_at = datetime.now(UTC)
    ahead = backtesting.week_ahead(client, spec, rows, predict_batch)
    lap("training")

    inputs = pc.profile_inputs(
        pc.price_grid(ev[ev["product_id"].isin(pick.products)], products), rows
    )
    curve = pc.curves(inputs, training_mod.predict_batches(client, spec, inputs, predict_batch))
    verdict = pc.price_response(curve)
    log(f"price response: {pc.response_summary(verdict)}")
    found = elasticities(lines, schema, log)
    with connect() as conn:
        unit_costs = costs.stored(conn, schema)
    if unit_costs is not None:
        log(f"{schema}: unit costs for {len(unit_costs)} products: their advice maximizes profit")
    advice_rows = at.advice(
        products, ev, curve, pick.skipped, pick.reason,
        model_loses=result.no_advice_reason(), elasticities=found.products, excluded=excluded,
        current=found.current, rails=rails, costs=unit_costs, forecast=ahead,
    )  # fmt: skip
    evaluation_rows = evaluation_row(
        spec, final.version.version, trained_at, len(rows), pick,
        result, verdict.passed, found.pooled,
    )  # fmt: skip
    with connect() as conn, conn:
        written = write_results(conn, schema, curve, advice_rows, evaluation_rows)
    lap("curves")
    return ForecastRun(
        spec=spec,
        selection=pick,
        evidence=ev,
        training_rows=len(rows),
        result=result,
        training=final,
        curve=curve,
        advice=advice_rows,
        verdict=verdict,
        elasticities=found,
        excluded=excluded,
        density=dense,
        written=written,
        datasource=source.state,
        seconds=clock,
    )
