"""Time the `price_recommendations` computation for a large catalog: 1,000 products x 4 buckets.

    .venv/bin/python benchmarks/bench_recommendations.py                    # 1,000 products
    .venv/bin/python benchmarks/bench_recommendations.py --products 200 --hours 48
    .venv/bin/python benchmarks/bench_recommendations.py --products 15 --lightwood  # the engine
                                                          # the count model replaced, same rows
    .venv/bin/python benchmarks/bench_recommendations.py --mindsdb-url http://127.0.0.1:47334

It starts a throw-away embedded PostgreSQL (and, unless --mindsdb-url, a MindsDB server) in a
temporary folder, builds a catalog of N products by copying the default catalog's 15 with new
ids (same prices and categories), generates `--hours` hours of sales for them, refreshes the
metrics, trains a small model on those hours, then runs the asset's own computation
(`model.recommendations.refresh`: grid, batched predictions of whole products per call, advice,
tables) and prints where the time goes, and how often the advised moves raise the shop's true
revenue (its own demand formula): per product and per bucket. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
from bench_app import free_port, start_mindsdb

from profiteer_app.sample_data import prepare_warehouse, recreate_database, train_model
from profiteer_pipeline.model import evaluation, training
from profiteer_pipeline.model import recommendations as recs
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.spec import ModelSpec
from profiteer_pipeline.pricing import advice as pa
from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, wait_ready
from profiteer_pipeline.synth import Product, load_default_catalog

DB = "profiteer_bench_recommendations"
SPEC = ModelSpec(name="bench_recs_forecast", datasource="bench_recs_warehouse")
START = datetime(2026, 6, 1, tzinfo=UTC)


def catalog(n: int) -> list[Product]:
    """`n` products: the default catalog's, repeated with new ids."""
    base = load_default_catalog()
    return [
        Product(**{**base[i % len(base)].model_dump(), "product_id": f"Q{i + 1:05d}",
                   "product_name": f"{base[i % len(base)].product_name} #{i + 1}"})
        for i in range(n)
    ]  # fmt: skip


def bench(
    admin: PgUrl, mindsdb_url: str, products: int, hours: int, max_rows: int, spec: ModelSpec
) -> dict:
    url = recreate_database(admin, DB)
    items = catalog(products)
    t = time.perf_counter()
    prepare_warehouse(url, START, hours, items)
    print(f"sales: {products:,} products x {hours} h = {products * hours:,} rows, loaded and "
          f"aggregated in {time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
    t = time.perf_counter()
    spec, _ = train_model(mindsdb_url, spec, url, timeout=1800)
    print(f"model trained in {time.perf_counter() - t:.0f} s", flush=True)
    client = MindsDBClient(mindsdb_url, read_timeout=1800)
    latest = START + timedelta(hours=hours)
    preds = training.held_out_predictions(client, spec, latest - timedelta(hours=24))
    m = evaluation.regression_metrics(preds["actual"], preds["predicted"])
    error = {"r2": m["r2"], "mae": m["mae"], "rmse": m["rmse"], "mean_purchases": m["mean_actual"],
             "relative_error": m["rmse"] / m["mean_actual"]}  # fmt: skip
    conn = psycopg2.connect(url.dsn())
    try:
        t = time.perf_counter()
        result, run, counts = recs.refresh(
            conn, lambda rows: training.predict_frame(client, spec, rows).to_numpy(),
            spec.features, model=spec.qualified_name, model_version=None, error=error,
            max_rows=max_rows,
        )  # fmt: skip
        took = time.perf_counter() - t
    finally:
        conn.close()
    changes = int(result.recommendations["confidence"].isin(["high", "medium"]).sum())
    figures = {"products": products, "curves": run["curves"], "predictions": run["predictions"],
               "engine": spec.engine, "r2_latest_24h_in_sample": m["r2"], "changes": changes,
               "mindsdb_calls": run["mindsdb_calls"], "seconds": took, **result.timings,
               "rows": counts}  # fmt: skip
    print(f"recommendations: {run['curves']:,} curves, {run['predictions']:,} predictions in "
          f"{run['mindsdb_calls']} MindsDB call(s) of at most {max_rows:,} rows: {took:.1f} s "
          f"(grid {result.timings['grid_s']:.1f} s, predict {result.timings['predict_s']:.1f} s, "
          f"advice {result.timings['advice_s']:.1f} s; the rest is reading and writing the "
          "tables)")  # fmt: skip
    print(f"engine {spec.engine}: R² {m['r2']:.3f} on the latest 24 h (in sample: the model saw "
          f"them); {changes} of {run['curves']} curves recommend a change (high or medium "
          "confidence)")  # fmt: skip
    figures.update(against_the_truth(result))
    return figures


def true_revenue(base, price) -> np.ndarray:
    """The simulated shop's own revenue at `price`, per unit of traffic: price x the logistic
    conversion at the price ratio (SEED-GENERATOR.md; traffic does not move with the price)."""
    price = np.asarray(price, float)
    return price / (1 + np.exp(20 * (price / np.asarray(base, float) - 1)))


def true_gain_pct(base, now, new) -> np.ndarray:
    """The shop's true revenue change (%) of a move from `now` to `new`."""
    return (true_revenue(base, new) / true_revenue(base, now) - 1) * 100


def captured(frame, price: str, step: float | None = None) -> float:
    """The share of the attainable true revenue gain the advised prices capture: Σ (true revenue
    at `price` − at the current price) ÷ Σ (at the true optimum − at the current price), over
    every row (a row with no change captures nothing); the optimum within the product's bounds,
    and within one `step` (a fraction) of the current price where given (the guardrails')."""
    base, now = frame["base_price"].to_numpy(float), frame["current_price"].to_numpy(float)
    lo, hi = frame["min_price"].to_numpy(float), frame["max_price"].to_numpy(float)
    if step is not None:
        lo, hi = np.maximum(lo, now * (1 - step)), np.minimum(hi, now * (1 + step))
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, 2001)[None, :]
    best = true_revenue(base[:, None], grid).max(axis=1)
    got = true_revenue(base, frame[price].to_numpy(float)) - true_revenue(base, now)
    return float(got.sum() / (best - true_revenue(base, now)).sum())


def line_alone(result: recs.Result) -> pd.DataFrame:
    """The per-bucket rows with `line_price`: each curve's best price on its demand line (the one
    smoothing rule) within the product's bounds, with no step and no minimum gain: what the
    smoothing alone finds."""
    free = guardrails.Guardrails(max_step_pct=1000, min_gain_pct=0)
    curves = result.curves.rename(columns={"time_of_day_bucket": "bucket"})
    falling = recs.bucket_falls(curves)
    r = result.recommendations.set_index(["product_id", "time_of_day_bucket"])
    best = {}
    for key, c in curves.groupby(["product_id", "bucket"]):
        row = r.loc[key]
        best[key] = pa.advise(
            c["price"].to_numpy(), c["purchases"].to_numpy(), min_price=row["min_price"],
            max_price=row["max_price"], current_price=row["current_price"], rails=free,
            falls=bool(falling[key]),
        ).best_price  # fmt: skip
    return r.assign(line_price=pd.Series(best)).reset_index()


def against_the_truth(result: recs.Result) -> dict:
    """How often each advice's moves raise the shop's true revenue: the per-product advice every
    source writes (`price_advice`) and the hourly advice per bucket (`price_recommendations`)."""
    a = result.advice
    advised = a[a["status"] == "advice"]
    true = true_gain_pct(advised["base_price"].astype(float), advised["current_price"].astype(float),
                         advised["best_price"].astype(float))  # fmt: skip
    r = result.recommendations
    moved = r[r["confidence"].isin(["high", "medium"])]
    bucket_true = true_gain_pct(moved["base_price"], moved["current_price"], moved["best_price"])
    out = {"products": len(a), "advised": len(advised),
           "advised_raise_true_revenue": int((true > 0).sum()),
           "advised_median_true_gain_pct": float(np.median(true)) if len(true) else None,
           "advised_median_predicted_gain_pct":
               float(advised["revenue_uplift_pct"].median()) if len(true) else None,
           "bucket_changes": len(moved), "bucket_changes_raise_true_revenue":
               int((bucket_true > 0).sum()),
           "bucket_line_alone_captured": captured(line_alone(result), "line_price"),
           "bucket_gain_captured": captured(r, "recommended_price"),
           "bucket_gain_captured_in_one_step":
               captured(r, "recommended_price", guardrails.DEFAULT.max_step_pct / 100),
           "pooled_elasticity": result.pooled.elasticity}  # fmt: skip
    print(f"per product (price_advice): {out['advised']} of {out['products']} advised "
          f"({', '.join(f'{n} {s}' for s, n in a['status'].value_counts().items())}); "
          f"{out['advised_raise_true_revenue']} raise the shop's true revenue (median true "
          f"{out['advised_median_true_gain_pct'] or 0:+.1f} %, predicted "
          f"{out['advised_median_predicted_gain_pct'] or 0:+.1f} %); {result.pooled.summary()}")  # fmt: skip
    print(f"per bucket (price_recommendations): {out['bucket_changes_raise_true_revenue']} of "
          f"{out['bucket_changes']} changes raise the shop's true revenue; of the true revenue "
          "gain attainable within the bounds, the demand line's best prices alone capture "
          f"{out['bucket_line_alone_captured']:.1%}, the recommended prices (one step of the "
          f"default guardrails) {out['bucket_gain_captured']:.1%}, which is "
          f"{out['bucket_gain_captured_in_one_step']:.1%} of the gain attainable in one "
          "step")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--hours", type=int, default=48, help="hours of sales (training data)")
    ap.add_argument("--max-rows", type=int, default=recs.MAX_ROWS_PER_CALL,
                    help="rows per prediction call (whole products)")  # fmt: skip
    ap.add_argument("--mindsdb-url", help="use this MindsDB server instead of starting one")
    ap.add_argument("--lightwood", action="store_true", help="lightwood's mixers (a comparison)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="profiteer-bench-recs-"))
    os.chmod(root, 0o755)  # the embedded server's own user must reach its data folder
    password = "bench-" + os.urandom(6).hex()
    server = EmbeddedPostgres(root / "postgres", free_port(), password)
    table = None
    try:
        server.start()
        admin = PgUrl("postgres", password, "127.0.0.1", server.port, "postgres")
        wait_ready(admin.dsn())
        url = args.mindsdb_url
        if not url:
            table, url = start_mindsdb(root)
        spec = SPEC.lightwood() if args.lightwood else SPEC
        figures = bench(admin, url, args.products, args.hours, args.max_rows, spec)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    finally:
        if table is not None:
            table.stop("mindsdb", timeout=30)
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
