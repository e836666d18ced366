"""Time the `sales_forecast` model (the count model every source trains, `model/engine.py`) on a
real MindsDB 25.14.1 server.

    .venv/bin/python benchmarks/bench_model.py                     # the figures below
    .venv/bin/python benchmarks/bench_model.py --compare-features  # also: which inputs to use
    .venv/bin/python benchmarks/bench_model.py --lightwood         # also: lightwood's mixers, the
                                                                   # engine it replaced
    .venv/bin/python benchmarks/bench_model.py --with-neural       # also: lightwood's Neural mixer
    .venv/bin/python benchmarks/bench_model.py --use-env           # reuse PROFITEER_DATABASE_URL
                                                                   # and MINDSDB_URL (running stack)

Prints: training time for the latest 48 hours and for 30 days of the default catalog (15
products); the held-out MAE and R² (trained on all but the latest 24 hours, scored on those),
and its RMSSE and Poisson deviance beside the same hour the day before and the same hour's
7-day mean (`model.shop_backtest`: the backtest the `beats_baseline` check applies);
single-prediction latency (median of 50, SQL `WHERE` and REST); one batch prediction of 21 prices.
With --compare-features, each candidate feature set is trained on the same 30 days and scored on
the same held-out day, with its price-response check.

It starts a throw-away PostgreSQL and MindsDB in a temporary folder (the same helpers as the test
fixtures), or uses the running stack with --use-env (a scratch database `profiteer_bench_model`
and models named `bench_*`). Figures, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg2

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.model import evaluation, features, shop_backtest, training
from profiteer_pipeline.model import spec as spec_mod
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.profile import read_profiles
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.warehouse.io import copy_dataframe
from profiteer_pipeline.warehouse.metrics import ensure_metric_tables, refresh_metrics
from profiteer_pipeline.warehouse.products import products_frame, replace_products
from profiteer_pipeline.warehouse.schema import SALES_DDL, SALES_FEATURES_DDL

DB = "profiteer_bench_model"
DATASOURCE = "bench_warehouse"
END = datetime(2026, 3, 1, tzinfo=UTC)  # the data ends just before this hour


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def own_stack() -> Iterator[tuple[settings_mod.PgUrl, str]]:
    """A private PostgreSQL and MindsDB under a temporary folder; both stopped by PID at the end."""
    from profiteer_pipeline.stack import mindsdb as mindsdb_server
    from profiteer_pipeline.stack.postgres import EmbeddedPostgres, wait_ready
    from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until

    root = Path(tempfile.mkdtemp(prefix="profiteer-bench-model-"))
    os.chmod(root, 0o755)  # the embedded server runs as its own user
    pg_port, mdb_port = free_port(), free_port()
    password = "bench-" + os.urandom(8).hex()
    pg = EmbeddedPostgres(root / "postgres", pg_port, password)
    table = ProcessTable(root / "run", root / "logs")
    try:
        pg.start()
        admin = settings_mod.PgUrl("postgres", password, "127.0.0.1", pg_port, "postgres")
        wait_ready(admin.dsn())
        storage = root / "mindsdb"
        rec = table.spawn(
            "mindsdb",
            mindsdb_server.command(settings_mod.mindsdb_venv(), storage, mdb_port),
            {**os.environ, **mindsdb_server.environment(storage)},
        )
        t = time.perf_counter()
        wait_until(
            lambda: http_ok(mindsdb_server.status_url(mdb_port)),
            timeout=240, name="MindsDB", log=rec.log, pid=rec.pid,
        )  # fmt: skip
        print(f"MindsDB server up in {time.perf_counter() - t:.1f}s")
        yield admin, f"http://127.0.0.1:{mdb_port}"
    finally:
        table.stop("mindsdb", timeout=30)
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def fill(admin: settings_mod.PgUrl, days: int) -> tuple[settings_mod.PgUrl, int]:
    conn = psycopg2.connect(admin.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB}")
    conn.close()
    url = admin.with_database(DB)
    conn = psycopg2.connect(url.dsn())
    with conn, conn.cursor() as cur:
        cur.execute(SALES_DDL)
        cur.execute(SALES_FEATURES_DDL)
    df = generate_window(load_default_catalog(), END - timedelta(days=days), END)
    with conn:
        rows = copy_dataframe(conn, "sales", df)
    # the price-response check reads the app's inputs: the dimension and the bucket averages
    replace_products(conn, products_frame(load_default_catalog()))
    ensure_metric_tables(conn)
    refresh_metrics(conn)
    conn.close()
    return url, rows


def timed_training(client: MindsDBClient, spec: spec_mod.ModelSpec, **window) -> float:
    client.query(f"DROP MODEL IF EXISTS {spec.qualified_name}")
    result = training.train(client, spec, log=lambda _m: None, **window)
    return result.seconds


def held_out(
    client: MindsDBClient, spec: spec_mod.ModelSpec, since: datetime, db=None, history_from=None
) -> dict:
    """Score on [since, END): MAE, R²; with `db`, also against the shop's baselines (the same
    hour the day before, the same hour's 7-day mean) from the hours [history_from, since), by
    the backtest the pipeline runs (`shop_backtest.score`: its `Evaluation`)."""
    preds = training.held_out_predictions(client, spec, since, END)
    metrics = evaluation.regression_metrics(preds["actual"], preds["predicted"])
    if db is not None:
        conn = psycopg2.connect(db.dsn())
        try:
            with conn.cursor() as cur:
                cur.execute(
                    'SELECT product_id, "timestamp", purchases FROM sales'
                    ' WHERE "timestamp" >= %s AND "timestamp" < %s',
                    (history_from, END),
                )
                hours = pd.DataFrame(
                    cur.fetchall(), columns=["product_id", "timestamp", "purchases"]
                )
        finally:
            conn.close()
        # the backtest the pipeline runs, on these predictions of the held-out day
        panel = shop_backtest.panel(hours)
        metrics["baselines"] = shop_backtest.score(panel, lambda _s, _e: preds).evaluation
    return metrics


def price_check(client: MindsDBClient, spec: spec_mod.ModelSpec, db: settings_mod.PgUrl) -> str:
    conn = psycopg2.connect(db.dsn())
    try:
        profiles, ranges = read_profiles(conn)  # as the price_response check reads them
    finally:
        conn.close()
    grid = training.price_response_grid(client, spec, profiles, ranges)
    verdict = training.check_price_response(grid)
    worst = float(verdict.curves["max_rise"].max())
    return (
        f"{'pass' if verdict.passed else 'FAIL'} ({verdict.n_rising} rising, {verdict.n_flat} "
        f"flat of {verdict.n_curves}; worst step up {worst:.0f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--use-env", action="store_true", help="use the running stack's servers")
    ap.add_argument("--compare-features", action="store_true")
    ap.add_argument("--with-neural", action="store_true", help="also time lightwood's Neural mixer")
    ap.add_argument("--lightwood", action="store_true", help="also lightwood's mixers, same rows")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    figures: dict[str, float] = {}

    if args.use_env:
        s = settings_mod.load()
        stack = contextlib.nullcontext((s.warehouse.with_database("postgres"), s.mindsdb_url))
    else:
        stack = own_stack()
    with stack as (admin, url):
        db, rows = fill(admin, args.days)
        print(f"sales: {rows:,} rows ({args.days} days x 15 products), ending {END:%Y-%m-%d %H:%M}")
        client = MindsDBClient(url)
        params = {"host": db.host, "port": db.port, "database": db.database,
                  "user": db.user, "password": db.password}  # fmt: skip
        datasource = client.ensure_datasource(DATASOURCE, "postgres", params).name
        base = spec_mod.ModelSpec(name="bench_forecast", datasource=datasource)
        cutoff = END - timedelta(hours=24)

        print("\n== training time (CREATE MODEL until complete) ==")
        # the first training also starts MindsDB's ML worker: time it separately
        warm = timed_training(
            client, base.with_name("bench_warmup"), since=END - timedelta(hours=24)
        )
        print(f"first training after server start (24 h, cold ML worker): {warm:.1f}s")
        s48 = base.with_name("bench_48h")
        t48 = timed_training(client, s48, since=END - timedelta(hours=48))
        print(f"48 hours  ({48 * 15:>6,} rows): {t48:.1f}s")
        s30 = base.with_name("bench_30d")
        t30 = timed_training(client, s30)
        print(f"{args.days} days   ({rows:>6,} rows): {t30:.1f}s")
        figures.update(train_first_s=warm, train_48h_s=t48, train_30d_s=t30, train_30d_rows=rows)

        print("\n== held-out evaluation (train on all but the latest 24 h, score those 24 h) ==")
        h48 = base.with_name("bench_holdout_48h")
        timed_training(client, h48, since=END - timedelta(hours=48), before=cutoff)
        m = held_out(client, h48, cutoff, db, cutoff - timedelta(hours=24))
        print(f"48 h of history (24 h train): MAE {m['mae']:.2f}  R² {m['r2']:.3f}  "
              f"(n={m['n']}, mean purchases {m['mean_actual']:.1f})")  # fmt: skip
        print(f"  against the baselines: {m['baselines'].summary()}")
        hall = base.with_name("bench_holdout_all")
        timed_training(client, hall, before=cutoff)
        m = held_out(client, hall, cutoff, db, cutoff - timedelta(days=7))
        print(f"{args.days} days of history:         MAE {m['mae']:.2f}  R² {m['r2']:.3f}  "
              f"(n={m['n']}, mean purchases {m['mean_actual']:.1f})")  # fmt: skip
        print(f"  against the baselines: {m['baselines'].summary()}")
        figures.update(held_out_mae=m["mae"], held_out_r2=m["r2"])
        figures.update({f"held_out_{k}": v for k, v in m["baselines"].figures.items()})
        print(f"price response ({args.days}-day model): {price_check(client, hall, db)}")

        print("\n== prediction latency (30-day model) ==")
        row = {"views": 9000, "cart_adds": 600, "price_ratio": 1.0, "popularity_factor": 1.8,
               "time_of_day_bucket": "Afternoon", "category": "Laptops", "hour_of_day": 15,
               "rating": 4.5}  # fmt: skip
        client.query(s30.predict_one(row))  # warm
        sql_times, rest_times = [], []
        import pandas as pd

        one = pd.DataFrame([{f: row[f] for f in s30.features}])
        for _ in range(50):
            t = time.perf_counter()
            client.query(s30.predict_one(row))
            sql_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            client.predict(s30.name, one)
            rest_times.append(time.perf_counter() - t)
        print(f"single prediction, SQL WHERE: median {statistics.median(sql_times) * 1000:.0f} ms")
        print(f"single prediction, REST:      median {statistics.median(rest_times) * 1000:.0f} ms")
        figures["single_sql_ms"] = statistics.median(sql_times) * 1000
        figures["single_rest_ms"] = statistics.median(rest_times) * 1000
        product = load_default_catalog()[0]
        profile = {**row, "base_price": product.base_price}
        from profiteer_pipeline.pricing.grid import price_grid

        inputs = features.model_inputs(
            profile, price_grid(product.min_price, product.max_price, 21), s30.features
        )
        batch = []
        for _ in range(10):
            t = time.perf_counter()
            training.predict_frame(client, s30, inputs)
            batch.append(time.perf_counter() - t)
        print(f"batch of 21 prices, one REST call: median {statistics.median(batch) * 1000:.0f} ms "
              f"(of 10)")  # fmt: skip
        figures["batch_ms"] = statistics.median(batch) * 1000
        figures["batch_per_row_ms"] = figures["batch_ms"] / len(inputs)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))

        if args.compare_features:
            print("\n== feature sets (30 days, held-out = the latest 24 h) ==")
            candidates = {
                "original 4": spec_mod.ORIGINAL_FEATURES,
                "+ bucket, category": spec_mod.CONTEXT_FEATURES,
                "+ bucket, category, hour, rating": spec_mod.FULL_FEATURES,
                "cart_adds, price_ratio": ("cart_adds", "price_ratio"),
            }
            for label, cols in candidates.items():
                sp = spec_mod.ModelSpec(name="bench_features", datasource=datasource, features=cols)
                secs = timed_training(client, sp, before=cutoff)
                m = held_out(client, sp, cutoff)
                print(f"{label:<34} MAE {m['mae']:.2f}  R² {m['r2']:.3f}  train {secs:5.1f}s  "
                      f"price response {price_check(client, sp, db)}")  # fmt: skip
        if args.lightwood:
            print(
                "\n== lightwood's mixers on the same rows (the engine the count model replaced) =="
            )
            for label, hours in (("48 h", 48), (f"{args.days} days", None)):
                sp = base.with_name(f"bench_lightwood_{hours or 'all'}").lightwood()
                since = END - timedelta(hours=hours) if hours else None
                secs = timed_training(client, sp, since=since, before=cutoff)
                m = held_out(client, sp, cutoff)
                print(f"{label:<8} MAE {m['mae']:.2f}  R² {m['r2']:.3f}  train {secs:5.1f}s")
                figures[f"lightwood_r2_{hours or 'all'}"] = m["r2"]
        if args.with_neural:
            print("\n== lightwood's default mixers, Neural included (48 hours, held-out 24 h) ==")
            sp = spec_mod.ModelSpec(name="bench_neural", datasource=datasource).lightwood(())
            secs = timed_training(client, sp, since=END - timedelta(hours=48), before=cutoff)
            m = held_out(client, sp, cutoff)
            print(f"all mixers: MAE {m['mae']:.2f}  R² {m['r2']:.3f}  train {secs:5.1f}s  "
                  f"(selected: {client.describe(sp.name)['selected_mixer']})")  # fmt: skip

        for name in ("bench_warmup", "bench_48h", "bench_30d", "bench_holdout_48h",
                     "bench_holdout_all", "bench_features", "bench_neural",
                     "bench_lightwood_48", "bench_lightwood_all"):  # fmt: skip
            client.query(f"DROP MODEL IF EXISTS mindsdb.{name}")
        client.drop_datasources(DATASOURCE)


if __name__ == "__main__":
    main()
