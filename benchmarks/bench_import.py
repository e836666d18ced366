"""Benchmark: `profiteer import` of an order export the size of UCI Online Retail (541,909 lines).

Generates a UCI-layout CSV with a known price response, then imports it exactly as the import run
does (`run_import`: sniff, Airbyte's File source through PyAirbyte, cleaning, hourly grain, one
transaction into a private embedded PostgreSQL). Prints lines/s from file to `sales`, each
stage's time, and peak memory (this process, and the connector's process).

    .venv/bin/python benchmarks/bench_import.py                 # 541,909 lines
    .venv/bin/python benchmarks/bench_import.py --lines 50000 --json out.json
    .venv/bin/python benchmarks/bench_import.py --no-model      # the import alone

The model stage (on by default) then starts a throw-away MindsDB 25.14.1 server, as
bench_model.py does, and trains the import's model exactly as `import_forecast` does
(`forecast.run`: features within the row budget, the rolling-origin backtest against the
seasonal naive and the 28-day mean, the model, its price curves, elasticities and advice). It
prints the training time, the backtest's RMSSE and Poisson deviance, the pooled elasticity, and
how far each product's revenue-maximizing price lies from the true optimum: median |best price /
true base - 0.8125| over the modelled products, with guardrails that never bind (`UNBOUND`).

The export: PRODUCTS products over DAYS days; each product's price changes daily to one of
0.8 .. 1.2 x its base price, and its expected units follow units = c * (2.6 - 1.6 * price/base),
whose revenue optimum is at price/base = 2.6 / 3.2 = 0.8125. The same mess as the real file:
month-first dates in two spellings, cancelled invoices (C prefix, negative quantity), NA
customer ids, exact duplicates, zero prices. The price response is recovered from the imported
hourly sales (a line fit of units per hour on price/base, zero hours included), and its revenue
optimum printed beside the true one: the hourly grain keeps what a model needs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.pricing.guardrails import Guardrails
from profiteer_pipeline.sources.files.pipeline import run_import
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, ensure_databases, wait_ready

UCI_LINES = 541_909
PRODUCTS = 150
DAYS = 120
RATIOS = np.array([0.8, 0.9, 1.0, 1.1, 1.2])
INTERCEPT, SLOPE = 2.6, -1.6  # units per hour ~ c * (2.6 - 1.6 * ratio)
TRUE_OPTIMUM = INTERCEPT / (-2 * SLOPE)
#: guardrails that never bind: the best price is the curve's own, so its distance from the true
#: optimum measures the model (the shop's default step of 10 % would measure the guardrail)
UNBOUND = Guardrails(max_step_pct=1000, range_margin_pct=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generate(path: Path, lines: int, seed: int = 7) -> dict:
    """Write the export; return what was put in it."""
    rng = np.random.default_rng(seed)
    hours = DAYS * 24
    base = np.round(rng.uniform(1.0, 25.0, PRODUCTS), 2)
    day_ratio = rng.choice(RATIOS, (PRODUCTS, DAYS))
    hour_of_day = np.arange(hours) % 24
    shape = 0.2 + np.exp(-(((hour_of_day - 13) / 4.0) ** 2))  # busy afternoons
    popularity = rng.lognormal(0, 0.5, PRODUCTS)
    ratio = np.repeat(day_ratio, 24, axis=1)  # product x hour
    intensity = popularity[:, None] * shape[None, :] * (INTERCEPT + SLOPE * ratio)
    cells = rng.multinomial(lines, (intensity / intensity.sum()).ravel())
    cell = np.repeat(np.arange(cells.size), cells)
    product, hour = cell // hours, cell % hours
    start = pd.Timestamp("2010-12-01 00:00")  # a day's price holds from midnight to midnight
    moment = start + pd.to_timedelta(hour * 60 + rng.integers(0, 60, lines), unit="min")
    quantity = rng.integers(1, 4, lines)
    price = np.round(base[product] * ratio[product, hour], 2)
    invoice = (536365 + np.arange(lines) // 3).astype(str)
    # the mess: returns, NA customers, zero prices, exact duplicates
    cancelled = rng.random(lines) < 0.02
    invoice = np.where(cancelled, np.char.add("C", invoice), invoice)
    quantity = np.where(cancelled, -quantity, quantity)
    customer = rng.integers(12346, 18288, lines).astype(str)
    customer = np.where(rng.random(lines) < 0.25, "NA", customer)
    zero = rng.random(lines) < 0.002
    price = np.where(zero, 0.0, price)
    dates = np.where(
        rng.random(lines) < 0.5,
        moment.strftime("%m/%d/%Y %H:%M"),
        moment.strftime("%-m/%-d/%y %H:%M"),
    )
    frame = pd.DataFrame(
        {
            "InvoiceNo": invoice,
            "StockCode": np.char.add("SKU", product.astype(str)),
            "Description": np.char.add("PRODUCT ", product.astype(str)),
            "Quantity": quantity,
            "InvoiceDate": dates,
            "UnitPrice": price,
            "CustomerID": customer,
            "Country": "United Kingdom",
        }
    )
    duplicates = (rng.random(lines) < 0.01) & (np.arange(lines) > 0)
    frame = frame.iloc[np.arange(lines) - duplicates]  # a duplicate repeats the line before it
    frame.to_csv(path, index=False)
    return {
        "true_base": {f"SKU{i}": float(b) for i, b in enumerate(base)},
        "lines": lines,
        "products": PRODUCTS,
        "days": DAYS,
        "cancelled": int(cancelled.sum()),
        "zero_price": int(zero.sum()),
        "duplicated": int(duplicates.sum()),
    }


def recovered_optimum(dsn: str, name: str, true_base: dict[str, float]) -> dict:
    """Fit units per product-hour on price/base over every hour of each product-day.

    The import's base price is the median price paid, which leans to the cheaper days (more
    lines); the optimum found in those units is converted to the generator's base price."""
    query = f"""
        WITH day_price AS (
            SELECT s.product_id, date_trunc('day', s."timestamp") AS day,
                   sum(s.revenue) / nullif(sum(s.units), 0) / p.base_price AS ratio,
                   avg(s.units) AS units
            FROM import_{name}.sales s JOIN import_{name}.products p USING (product_id)
            GROUP BY 1, 2, p.base_price
        )
        SELECT product_id, round(ratio::numeric, 1)::float AS ratio, avg(units)::float AS units
        FROM day_price WHERE ratio IS NOT NULL GROUP BY 1, 2
    """  # noqa: S608 - the name is a validated identifier
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query)
        rows = pd.DataFrame(cur.fetchall(), columns=["product_id", "ratio", "units"])
    # each product's units relative to its own mean, so popularity cancels
    rows["rel"] = rows["units"] / rows.groupby("product_id")["units"].transform("mean")
    slope, intercept = np.polyfit(rows["ratio"], rows["rel"], 1)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT product_id, base_price::float FROM import_{name}.products")  # noqa: S608
        medians = dict(cur.fetchall())
    scale = float(np.mean([medians[p] / true_base[p] for p in medians]))
    optimum = intercept / (-2 * slope)
    return {
        "median_over_true_base": round(scale, 4),
        "recovered_optimum_over_median": round(float(optimum), 4),
        "fit_intercept": round(float(intercept), 3),
        "fit_slope": round(float(slope), 3),
        "recovered_optimum_ratio": round(float(optimum * scale), 4),
        "true_optimum_ratio": round(TRUE_OPTIMUM, 4),
    }


@contextlib.contextmanager
def mindsdb_server(root: Path):
    """A private MindsDB under `root`, stopped by PID (SIGINT) at the end."""
    from profiteer_pipeline.stack import mindsdb as server_mod
    from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until

    port, storage = free_port(), root / "mindsdb"
    table = ProcessTable(root / "run", root / "logs")
    rec = table.spawn(
        "mindsdb",
        server_mod.command(settings_mod.mindsdb_venv(), storage, port),
        {**os.environ, **server_mod.environment(storage)},
    )
    try:
        t = time.monotonic()
        wait_until(
            lambda: http_ok(server_mod.status_url(port)),
            timeout=240, name="MindsDB", log=rec.log, pid=rec.pid,
        )  # fmt: skip
        print(f"MindsDB server up in {time.monotonic() - t:.1f}s")
        yield f"http://127.0.0.1:{port}"
    finally:
        table.stop("mindsdb", timeout=30)


@contextlib.contextmanager
def warehouse_server(root: Path):
    """A private embedded PostgreSQL under `root` with a `warehouse` database; yields its admin
    URL and stops it (by PID) at the end."""
    port, password = free_port(), "bench-" + os.urandom(6).hex()
    server = EmbeddedPostgres(root / "postgres", port, password)
    try:
        server.start()
        admin = settings_mod.PgUrl("postgres", password, "127.0.0.1", port, "postgres")
        wait_ready(admin.dsn())
        ensure_databases(admin.dsn(), ["warehouse"])
        yield admin
    finally:
        server.stop()


def connector(admin: settings_mod.PgUrl):
    """`connect()` for the warehouse database, as `run_import` and `forecast.run` take it."""
    dsn = admin.with_database("warehouse").dsn()
    return lambda: contextlib.closing(psycopg2.connect(dsn))


def train_import_model(root: Path, admin: settings_mod.PgUrl, name: str, **options):
    """`forecast.run` for the import `name`, as `import_forecast` runs it, on a MindsDB server of
    its own; `options` pass on (row_budget, rails, engine). Returns (the run, its seconds)."""
    from profiteer_pipeline.model import forecast
    from profiteer_pipeline.model.client import MindsDBClient

    warehouse = admin.with_database("warehouse")
    params = {
        "host": warehouse.host,
        "port": warehouse.port,
        "database": warehouse.database,
        "user": warehouse.user,
        "password": warehouse.password,
    }
    with mindsdb_server(root) as url:
        client = MindsDBClient(url, read_timeout=1800)
        t = time.monotonic()
        run = forecast.run(
            client,
            connector(admin),
            f"import_{name}",
            model_user=warehouse.user,
            ensure_datasource=lambda c, ds: c.ensure_datasource(ds, "postgres", params),
            log=lambda line: print("  " + line),
            **options,
        )
        return run, time.monotonic() - t


def model_stage(
    root: Path, admin: settings_mod.PgUrl, name: str, true_base: dict[str, float], budget: int
) -> dict:
    """Train the import's model as `import_forecast` does; its figures."""
    run, total = train_import_model(root, admin, name, row_budget=budget, rails=UNBOUND)
    advice = run.advice[run.advice["status"] == "advice"].copy()
    advice["true_base"] = advice["product_id"].map(true_base)
    ratio_true = advice["best_price"].astype(float) / advice["true_base"]
    ratio_import = advice["best_price"].astype(float) / advice["base_price"].astype(float)
    lowest = run.curve.groupby("product_id")["price"].min()
    at_low = advice["best_price"].astype(float).to_numpy() == lowest.reindex(advice["product_id"])
    low = run.curve.groupby("product_id")["units_per_day"].first()
    high = run.curve.groupby("product_id")["units_per_day"].last()
    return {
        "model_stage_s": round(total, 1),
        "model_training_s": round(run.training.seconds, 1),
        "model_holdout_training_s": round(run.result.twin_seconds, 1),
        "model_parts_s": run.seconds,
        "model_training_rows": run.training_rows,
        "model_products": len(run.selection.products),
        "model_selection": run.selection.reason,
        "model_held_out_rows": run.result.rows,
        "backtest_folds": run.result.folds,
        **{k: round(v, 4) if v is not None else None for k, v in run.result.figures.items()},
        "backtest": run.result.summary(),
        "backtest_meets_goal": run.result.meets_goal,
        "beats_baseline": run.result.beats_baseline,
        "pooled_elasticity": run.elasticities.pooled.elasticity,
        "pooled_elasticity_low": run.elasticities.pooled.low,
        "pooled_elasticity_high": run.elasticities.pooled.high,
        "price_response_ok": run.verdict.passed,
        "rising_curves": run.verdict.n_rising,
        "curves_falling_share": round(float((high < low).mean()), 3),
        "model_best_over_true_base_median": round(float(ratio_true.median()), 4),
        "model_optimum_error_median": round(float((ratio_true - TRUE_OPTIMUM).abs().median()), 4),
        "model_best_at_lowest_price_share": round(float(at_low.mean()), 3),
        "model_optimum_error_p90": round(float((ratio_true - TRUE_OPTIMUM).abs().quantile(0.9)), 4),
        "model_optimum_error_median_import_base": round(
            float((ratio_import - TRUE_OPTIMUM).abs().median()), 4
        ),
    }


def cpu_seconds() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "import_process": me.ru_utime + me.ru_stime,
        "connector": children.ru_utime + children.ru_stime,
    }


def s_parts(result) -> dict:
    return result.summary.get("write_parts", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=UCI_LINES)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--model",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then train the import's model on a MindsDB server of its own (default: on)",
    )
    parser.add_argument(
        "--model-budget", type=int, default=None, help="training rows (default: the asset's)"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="profiteer-bench-import-"))
    root.chmod(0o755)  # the embedded server runs as its own user
    os.environ["PROFITEER_STATE_DIR"] = str(root / "state")
    stack = contextlib.ExitStack()
    try:
        t = time.monotonic()
        export = root / "online_retail_bench.csv"
        made = generate(export, args.lines)
        true_base = dict(made["true_base"])
        generate_s = time.monotonic() - t
        print(
            f"generated {args.lines:,} lines ({export.stat().st_size / 1e6:.1f} MB, {PRODUCTS} "
            f"products x {DAYS} days) in {generate_s:.1f}s"
        )
        admin = stack.enter_context(warehouse_server(root))
        dsn = admin.with_database("warehouse").dsn()
        connect = connector(admin)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu_before = cpu_seconds()
        load_before = os.getloadavg()[0]
        t = time.monotonic()
        result = run_import(export, "bench", connect, log=lambda line: print("  " + line))
        total = time.monotonic() - t
        cpu = {k: round(v - cpu_before[k], 1) for k, v in cpu_seconds().items()}
        load_after = os.getloadavg()[0]
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        s = result.summary
        figures = {
            "lines": args.lines,
            "file_mb": round(export.stat().st_size / 1e6, 1),
            "total_s": round(total, 2),
            "lines_per_s": round(args.lines / total),
            "stages_s": {k: round(v, 2) for k, v in result.timings.items()},
            "write_parts_s": {k: round(v, 2) for k, v in s_parts(result).items()},
            "cpu_s": cpu,  # load-independent: this process, and the connector (a child)
            "load_average_1min": [round(load_before, 2), round(load_after, 2)],
            "peak_rss_mb": round(peak_self),
            "peak_rss_before_import_mb": round(rss_before / 1024),
            "connector_peak_rss_mb": round(peak_children),
            "accepted": s["lines_accepted"],
            "returns": s["lines_returned"],
            "rejected": s["rejected_by_reason"],
            "products": s["products"],
            "product_hours": s["product_hours"],
            "rows_written": result.written,
            "generated": made,
            "goal_s": 60,
            **recovered_optimum(dsn, "bench", made.pop("true_base")),
        }
        print()
        print(f"whole import: {total:.1f}s = {figures['lines_per_s']:,} lines/s file -> sales")
        for stage, seconds in figures["stages_s"].items():
            print(f"  {stage:<18} {seconds:7.2f}s")
        for part, seconds in figures["write_parts_s"].items():
            print(f"    {part:<20} {seconds:7.2f}s")
        print(
            f"CPU: {cpu['import_process']} s in this process, {cpu['connector']} s in the "
            f"source-file process; load average {load_before:.1f} before, {load_after:.1f} after "
            "(2 cores: above 2, other work slowed this run)"
        )
        print(
            f"peak memory: {figures['peak_rss_mb']} MB (this process), "
            f"{figures['connector_peak_rss_mb']} MB (the source-file process)"
        )
        print(
            f"lines: {s['lines_accepted']:,} accepted, {s['lines_returned']:,} returns, "
            f"rejected {s['rejected_by_reason']}; {s['products']} products, "
            f"{s['product_hours']:,} product-hours; rows written {result.written}"
        )
        print(
            f"price response from the imported hourly sales: units ~ {figures['fit_intercept']} "
            f"{figures['fit_slope']:+} x price/median price; revenue optimum at "
            f"{figures['recovered_optimum_over_median']} x the median price = "
            f"{figures['recovered_optimum_ratio']} x the true base (true "
            f"{figures['true_optimum_ratio']})"
        )
        print(f"goal <= 60 s: {'met' if total <= 60 else 'NOT met'}")
        if args.model:
            from profiteer_pipeline.model import daily_features as model_features

            budget = args.model_budget or model_features.ROW_BUDGET
            print(f"\nmodel stage: the import's model on MindsDB (row budget {budget:,})")
            m = model_stage(root, admin, "bench", true_base, budget)
            figures |= m
            print(
                f"model: {m['model_training_rows']:,} rows ({m['model_selection']}); trained in "
                f"{m['model_training_s']} s (backtest twins {m['model_holdout_training_s']} s), "
                f"whole stage {m['model_stage_s']} s"
            )
            print(
                f"backtest: {m['backtest']} ({'beats' if m['beats_baseline'] else 'does NOT beat'}"
                f" the 28-day mean); price response "
                f"{'ok' if m['price_response_ok'] else 'FAILS'} ({m['rising_curves']} rising), "
                f"{m['curves_falling_share']:.0%} of curves end lower than they start"
            )
            print(
                f"best price / true base: median {m['model_best_over_true_base_median']} (true "
                f"optimum {TRUE_OPTIMUM:.4f}); median |best/base - {TRUE_OPTIMUM:.4f}| = "
                f"{m['model_optimum_error_median']}, 90th percentile "
                f"{m['model_optimum_error_p90']} (with the import's median base: "
                f"{m['model_optimum_error_median_import_base']}); "
                f"{m['model_best_at_lowest_price_share']:.0%} at the lowest price paid"
            )
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
