"""`import_forecast`: the model on an import's real fields, trained after each import.

One materialization per import (partition = the import's name):
1. `model_features` from the import's `sales` and `products` (which products and hours, and
   why, in the metadata), readable by MindsDB's login;
2. a twin trained without the latest period is scored on it beside the naive baseline (the
   product's average for that hour of day): check `beats_baseline`;
3. the model `<schema>_forecast` trained on every modelled hour (CREATE, then RETRAIN);
4. its price curves and the best price per product, and the evaluation, replaced together in
   `price_curves`, `price_advice` and `model_evaluation`: check `price_response`.
"""


from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_pipeline import previews
from profiteer_pipeline.defs.imports.assets import GROUP, PRODUCTS, SALES
from profiteer_pipeline.defs.imports.partitions import imported_files
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.imports import forecast
from profiteer_pipeline.imports import model_features as mf
from profiteer_pipeline.imports.names import schema_name
from profiteer_pipeline.model import training
from profiteer_pipeline.model.client import MindsDBClient

KEY = dg.AssetKey("import_forecast")
#: MindsDB keeps every version; older finished ones beyond this many are dropped.
KEEP_VERSIONS = 3
#: Predictions per REST call for the curves (one call for a few products' grids).
PREDICT_BATCH = 10_000


def _read(warehouse: PostgresResource, query: pgsql.Composable, params=None) -> pd.DataFrame:
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute(query.as_string(conn), params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def _q(text: str, schema: str, table: str) -> pgsql.Composable:
    return pgsql.SQL(text).format(pgsql.Identifier(schema, table))


def read_inputs(warehouse: PostgresResource, schema: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(products, sale hours): the two small reads that decide what is modelled."""
    products = _read(warehouse, _q("SELECT * FROM {} ORDER BY product_id", schema, "products"))
    sold = _read(
        warehouse,
        _q(
            'SELECT product_id, "timestamp", units, revenue, avg_price FROM {} WHERE units > 0',
            schema,
            "sales",
        ),
    )
    return products, sold


def read_hours(
    warehouse: PostgresResource, schema: str, products: tuple[str, ...], since: pd.Timestamp
) -> pd.DataFrame:
    """The selected products' hours from 7 days before `since` (the lags reach that far)."""
    start = since - pd.Timedelta(hours=max(mf.LAGS.values()))
    return _read(
        warehouse,
        _q(
            'SELECT product_id, "timestamp", units, avg_price FROM {} '
            'WHERE product_id = ANY(%s) AND "timestamp" >= %s',
            schema,
            "sales",
        ),
        (list(products), start.to_pydatetime()),
    )


def _fail(message: str) -> dg.Failure:
    return dg.Failure(description=message, allow_retries=False)


@dg.asset(
    key=KEY,
    group_name=GROUP,
    deps=[SALES, PRODUCTS],
    partitions_def=imported_files,
    kinds={"mindsdb"},
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "beats_baseline",
            asset=KEY,
            description="On the latest held-out period, the model trained without it has a lower "
            "MAE than the naive baseline (the product's average units for that hour of day).",
        ),
        dg.AssetCheckSpec(
            "price_response",
            asset=KEY,
            description="Expected units per day must not rise with the price across a product's "
            f"prices paid by more than {forecast.ABS_TOLERANCE:g} unit + "
            f"{forecast.REL_TOLERANCE:.0%} of the curve's peak (flat curves are allowed).",
        ),
    ],
    description="MindsDB model `<schema>_forecast` on an import's real fields (price relative to "
    "the base price, hour of day, day of week, product, category, recent demand), evaluated "
    "against a naive baseline, and its price curves and advice in `price_curves`, `price_advice` "
    "and `model_evaluation`.",
)
def import_forecast(
    context: dg.AssetExecutionContext, mindsdb: MindsDBResource, warehouse: PostgresResource
) -> dg.MaterializeResult:
    schema = schema_name(context.partition_key)
    with mindsdb.session() as client:
        return _train(context, client, mindsdb, warehouse, schema)


def _train(
    context: dg.AssetExecutionContext,
    client: MindsDBClient,
    mindsdb: MindsDBResource,
    warehouse: PostgresResource,
    schema: str,
) -> dg.MaterializeResult:
    log = context.log.info
    spec = forecast.import_spec(schema)
    twin_spec = forecast.holdout_spec(spec)

    # 1. what is modelled, and the features
    products, sold = read_inputs(warehouse, schema)
    if sold.empty:
        raise _fail(f"{schema}.sales has no sale: nothing to model (import a file first)")
    ev = mf.evidence(sold, products)
    first = pd.to_datetime(sold["timestamp"], utc=True).min()
    last = pd.to_datetime(products["last_hour"], utc=True).max()
    pick = mf.select(ev, first, last)
    log(f"{schema}: {pick.reason}")
    if not pick.products:
        raise _fail(
            f"{schema}: no product has enough data for a price model (each needs at least "
            f"{mf.MIN_SALE_HOURS} hours with sales and {mf.MIN_PRICE_POINTS} prices paid that "
            f"differ by {mf.MIN_PRICE_SPREAD - 1:.0%}); {len(products)} products, "
            f"{int(ev['sale_hours'].max() or 0)} sale hours at most"
        )
    rows = mf.build(read_hours(warehouse, schema, pick.products, pick.since), products,
                    since=pick.since)  # fmt: skip
    with warehouse.connect() as conn, conn:
        forecast.write_features(conn, schema, rows, mindsdb.warehouse_user)
    log(f"{schema}.model_features: {len(rows):,} rows, {len(pick.products)} products")
    state = mindsdb.ensure_warehouse_datasource(client, spec.datasource)
    log(f"datasource {spec.datasource}: {state}")

    # 2. the honest evaluation: a twin without the latest period, against the baseline
    first_row, last_row = rows[mf.TS_COLUMN].min(), rows[mf.TS_COLUMN].max()
    since = forecast.held_out_from(first_row, last_row)
    chart = ""
    if since is not None:
        training.train(client, twin_spec, before=since.to_pydatetime(),
                       timeout=mindsdb.training_timeout, log=log)  # fmt: skip
        preds = training.held_out_predictions(client, twin_spec, since.to_pydatetime())
        result, scored = forecast.evaluate(rows, preds, since)
        if result.rows:
            chart = previews.predicted_vs_actual(
                scored["actual"].to_numpy(), scored["predicted"].to_numpy(),
                f"Held out from {since:%Y-%m-%d %H:00}: {result.summary()[:60]}",
            )  # fmt: skip
    else:
        result = forecast.Evaluation(0, None, None)
    log(result.summary())

    # 3. the model on every modelled hour
    final = training.train(client, spec, timeout=mindsdb.training_timeout, log=log)
    trained_at = datetime.now(UTC)

    # 4. curves, advice, evaluation: replaced together
    curve_ev = ev[ev["product_id"].isin(pick.products)]
    inputs = forecast.profile_inputs(forecast.price_grid(curve_ev, products), rows)
    predicted = pd.concat(
        [
            training.predict_frame(client, spec, inputs.iloc[i : i + PREDICT_BATCH])
            for i in range(0, len(inputs), PREDICT_BATCH)
        ]
    )
    curve = forecast.curves(inputs, predicted)
    verdict = forecast.price_response(curve)
    log(f"price response: {verdict.summary() if not verdict.passed else 'no curve rises'}")
    advice = forecast.advice(products, ev, curve, pick.skipped, pick.reason)
    evaluation = forecast.evaluation_row(
        spec, final.version.version, trained_at, len(rows), len(pick.products),
        since, result, verdict.passed,
    )  # fmt: skip
    with warehouse.connect() as conn, conn:
        written = forecast.write_results(conn, schema, curve, advice, evaluation)
    dropped = client.drop_versions(spec.name, KEEP_VERSIONS, spec.project)
    dropped += client.drop_versions(twin_spec.name, KEEP_VERSIONS, spec.project)
    if dropped:
        log(f"dropped {len(dropped)} old model versions (keeping {KEEP_VERSIONS} of each)")

    advised = advice[advice["status"] == "advice"]
    metadata: dict[str, object] = {
        "model": spec.qualified_name,
        "model_version": final.version.version,
        "training_action": final.action,
        "training_seconds": round(final.seconds, 1),
        "dagster/row_count": len(rows),
        "training_rows": len(rows),
        "products_modelled": len(pick.products),
        "products_too_little_data": int((advice["status"] == "too_little_data").sum()),
        "selection": pick.reason,
        "first_modelled_hour": str(pick.since),
        "held_out_from": str(since) if since is not None else "not evaluated",
        "held_out_rows": result.rows,
        "model_mae": dg.MetadataValue.float(_round(result.model_mae)),
        "baseline_mae": dg.MetadataValue.float(_round(result.baseline_mae)),
        "curves": verdict.n_curves,
        "rising_curves": verdict.n_rising,
        "flat_curves": verdict.n_flat,
        "tables": dg.MetadataValue.json({f"{schema}.{t}": n for t, n in written.items()}),
        "advice": dg.MetadataValue.md(
            previews.markdown_table(
                advised.sort_values("revenue_per_day_at_best", ascending=False)[
                    [
                        "product_id",
                        "product_name",
                        "base_price",
                        "best_price",
                        "revenue_uplift_pct",
                        "note",
                    ]
                ]
            )
            if not advised.empty
            else "no product has a curve"
        ),  # fmt: skip
        "price_curves": dg.MetadataValue.md(
            previews.price_curves(
                curve.rename(columns={"units_per_day": "predicted"}),
                "product_id",
                "Expected units per day by price (first products)",
            )
        ),
    }
    if chart:
        metadata["predicted_vs_actual"] = dg.MetadataValue.md(chart)
    checks = [
        dg.AssetCheckResult(
            check_name="beats_baseline",
            passed=result.beats_baseline,
            description=result.summary(),
            metadata={
                "model_mae": _round(result.model_mae),
                "baseline_mae": _round(result.baseline_mae),
                "rows": result.rows,
            },
        ),
        dg.AssetCheckResult(
            check_name="price_response",
            passed=verdict.passed,
            description=verdict.summary()
            if not verdict.passed
            else f"none of {verdict.n_curves} curves rises with price ({verdict.n_flat} flat)",
            metadata={
                "curves": verdict.n_curves,
                "rising_curves": verdict.n_rising,
                "worst_step_up": float(verdict.curves["max_rise"].max())
                if verdict.n_curves
                else 0.0,
            },
        ),
    ]
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


def _round(value: float | None) -> float:
    return round(float(value), 4) if value is not None else float("nan")
