"""Time the metric refresh with 1M+ rows in `sales`: one hourly update, and a full rebuild.

    .venv/bin/python benchmarks/bench_metrics.py                 # 15 products x 8 years (1.05M rows)
    .venv/bin/python benchmarks/bench_metrics.py --products 1000 --hours 1008

It starts a throw-away embedded PostgreSQL in a temporary folder (or uses the server of
PROFITEER_DATABASE_URL with --use-env, in a scratch database `profiteer_bench_metrics`), fills
`sales` with the vectorized generator and COPY, then prints the timings. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

from profiteer_pipeline.settings import PgUrl, load
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, wait_ready
from profiteer_pipeline.synth import Product, generate_window, load_default_catalog
from profiteer_pipeline.warehouse import metrics
from profiteer_pipeline.warehouse.io import copy_dataframe, replace_window
from profiteer_pipeline.warehouse.schema import SALES_DDL

DB = "profiteer_bench_metrics"
FIGURES: dict[str, float] = {}  # for --json
CHUNK_ROWS = 500_000


def catalog(n: int) -> list[Product]:
    """The default catalog, cloned with new ids until it has n products."""
    base = load_default_catalog()
    out = []
    for i in range(n):
        p = base[i % len(base)]
        out.append(p.model_copy(update={"product_id": f"B{i:05d}"}))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(conn, products: list[Product], start: datetime, hours: int) -> int:
    step = max(1, CHUNK_ROWS // len(products))
    rows = 0
    for h in range(0, hours, step):
        a = start + timedelta(hours=h)
        b = start + timedelta(hours=min(hours, h + step))
        with conn:
            rows += copy_dataframe(conn, "sales", generate_window(products, a, b))
    with conn, conn.cursor() as cur:
        cur.execute("ANALYZE public.sales")
    return rows


def asset_step(hour: datetime) -> float:
    import dagster as dg

    from profiteer_pipeline.defs.metrics.assets import analytics_metrics
    from profiteer_pipeline.defs.partitions import hourly_partitions
    from profiteer_pipeline.defs.warehouse.resources import PostgresResource

    key = hourly_partitions.get_partition_key_for_timestamp(hour.timestamp())
    resources = {"warehouse": PostgresResource(database=DB)}
    dg.materialize(
        [analytics_metrics], tags={"dagster/partition": key}, resources=resources
    )  # warm imports
    t = time.perf_counter()
    result = dg.materialize(
        [analytics_metrics], tags={"dagster/partition": key}, resources=resources
    )
    assert result.success
    return time.perf_counter() - t


def run(admin: PgUrl, products: int, hours: int, updates: int) -> None:
    conn = psycopg2.connect(admin.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB}")
    conn.close()
    conn = psycopg2.connect(admin.with_database(DB).dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SALES_DDL)
        metrics.ensure_metric_tables(conn)
        cat = catalog(products)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        t = time.perf_counter()
        rows = fill(conn, cat, start, hours)
        load_s = time.perf_counter() - t
        print(f"sales: {rows:,} rows ({products} products x {hours:,} hours), "
              f"generated + COPY in {load_s:.1f} s ({rows / load_s:,.0f} rows/s)")  # fmt: skip

        full = metrics.refresh_metrics(conn)
        print(f"full rebuild (first):  {full.duration_s * 1000:8.0f} ms")
        full = metrics.refresh_metrics(conn)
        print(f"full rebuild (again):  {full.duration_s * 1000:8.0f} ms")
        FIGURES.update(sales_rows=rows, full_rebuild_ms=full.duration_s * 1000)
        counts = metrics.table_counts(conn)
        print("  rows:", ", ".join(f"{k}={v:,}" for k, v in counts.items()))

        # the schedule's case: a new hour arrives, is written, and the metrics catch up
        times = []
        for i in range(updates):
            hour = start + timedelta(hours=hours + i)
            df = generate_window(cat, hour, hour + timedelta(hours=1))
            replace_window(conn, "sales", df, hour, hour + timedelta(hours=1))
            stats = metrics.refresh_metrics(conn, hour, hour + timedelta(hours=1))
            times.append(stats.duration_s * 1000)
        print(f"hourly update (new latest hour, {updates} runs): median "
              f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms")  # fmt: skip
        FIGURES["hourly_update_ms"] = statistics.median(times)

        # a backfill re-materializing one old hour in the middle of the history
        times = []
        for i in range(updates):
            hour = start + timedelta(hours=hours // 2 + 7 * i)
            stats = metrics.refresh_metrics(conn, hour, hour + timedelta(hours=1))
            times.append(stats.duration_s * 1000)
        print(f"hourly update (old hour, backfill): median {statistics.median(times):.0f} ms")
        FIGURES["backfill_hour_update_ms"] = statistics.median(times)

        # one hour as the Dagster step runs it (refresh, counts, previews, charts); an hour of
        # the data that is also a valid partition (the partitions end at the current hour)
        hour = start + timedelta(hours=min(hours - 1, 3600))
        os.environ.update(
            PROFITEER_PG_HOST=admin.host, PROFITEER_PG_PORT=str(admin.port),
            PROFITEER_PG_USER=admin.user, PROFITEER_PG_PASSWORD=admin.password,
        )  # fmt: skip
        step_s = asset_step(hour)
        print(f"hourly update as the Dagster asset step (in-process, incl. metadata): "
              f"{step_s:.2f} s")  # fmt: skip
        FIGURES["asset_step_s"] = step_s
    finally:
        conn.close()
        conn = psycopg2.connect(admin.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=15)
    ap.add_argument("--hours", type=int, default=70_080, help="default: 8 years")
    ap.add_argument("--updates", type=int, default=5, help="hourly updates to time")
    ap.add_argument("--use-env", action="store_true", help="the server of PROFITEER_DATABASE_URL")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    if args.use_env:
        run(load().warehouse.with_database("postgres"), args.products, args.hours, args.updates)
        write_json(args.json)
        return
    root = Path(tempfile.mkdtemp(prefix="profiteer-bench-"))
    os.chmod(root, 0o755)  # the embedded server's own user must reach its data folder
    password = "bench-" + os.urandom(6).hex()
    server = EmbeddedPostgres(root, free_port(), password)
    server.start()
    try:
        admin = PgUrl("postgres", password, "127.0.0.1", server.port, "postgres")
        wait_ready(admin.dsn())
        run(admin, args.products, args.hours, args.updates)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    write_json(args.json)


def write_json(path: Path | None) -> None:
    if path:
        path.write_text(json.dumps(FIGURES, indent=2))


if __name__ == "__main__":
    main()
