"""Rows per second from the shop store to `sales` on the embedded path, against a plain COPY.

    .venv/bin/python benchmarks/bench_ingest.py                # 10k and 100k rows
    .venv/bin/python benchmarks/bench_ingest.py --rows 20000   # other sizes

It starts a throw-away embedded PostgreSQL and the real shop API (uvicorn, its own process) in a
temporary folder, writes the generator's rows for N/15 hours into the shop store, then times:

- the embedded path, as the `raw_sales` and `sales` assets run it: the `airbyte` resource's
  sync of the window (shop API -> the Airbyte CDK running the manifest in-process, its records
  streamed into a COPY into airbyte_raw.sales while it reads), then the typed, deduplicated
  rebuild of `sales` (read+land / sales columns), with the CDK already imported (its import is
  printed apart);
- a plain COPY of the same rows into a `sales`-shaped table (COPY alone, and SELECT from the shop
  store + COPY);
- with --dagster, also one Dagster run of both assets over the hours as a partition range, which
  adds Dagster's per-partition materialization events.

Figures, not a test. Stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.stack.postgres import EmbeddedPostgres, ensure_databases, wait_ready

START = datetime(2026, 2, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def partition_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d-%H:%M")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--dagster",
        action="store_true",
        help="also time one Dagster run over the range (slow: one event per hourly partition)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="profiteer-bench-ingest-"))
    root.chmod(0o755)  # the embedded server runs as its own user
    os.environ["PROFITEER_STATE_DIR"] = str(root / "state")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    port, password = free_port(), "bench-" + os.urandom(6).hex()
    server = EmbeddedPostgres(root / "postgres", port, password)
    api = None
    try:
        server.start()
        admin = settings_mod.PgUrl("postgres", password, "127.0.0.1", port, "postgres")
        wait_ready(admin.dsn())
        ensure_databases(admin.dsn(), ["warehouse", "shop"])
        api_port = free_port()
        os.environ["PROFITEER_DATABASE_URL"] = admin.with_database("warehouse").dsn()
        os.environ["PROFITEER_SHOP_API_KEY"] = "bench-" + os.urandom(12).hex()
        os.environ["PROFITEER_SHOP_API_URL"] = f"http://127.0.0.1:{api_port}"
        settings = settings_mod.load()
        os.environ.update(settings_mod.environment(settings))

        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "profiteer_pipeline.shop.api:app"]
            + ["--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{settings.shop_api_url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or api.poll() is not None:
                raise RuntimeError("the shop API did not start")
            time.sleep(0.2)

        t0 = time.monotonic()
        from profiteer_pipeline.defs.ingest import airbyte_embedded as airbyte_mod

        airbyte_mod._airbyte_environment(root / "ab")
        # warm the import so the runs time the sync alone
        import airbyte_cdk.sources.declarative.concurrent_declarative_source  # noqa: F401

        print(f"Airbyte CDK import: {time.monotonic() - t0:.1f}s (once per process)")
        print(
            f"{'rows':>8} | {'embedded rows/s':>15} | {'read':>6} {'land':>6} {'sales':>6} |"
            f" {'COPY rows/s':>11} | {'SELECT+COPY rows/s':>18} | SELECT+COPY / embedded"
        )
        offset = 0
        for rows in args.rows:
            hours = math.ceil(rows / 15)
            start = START + timedelta(hours=offset)
            offset += hours + 24
            print(bench(settings, root, start, hours, args.dagster), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"cases": FIGURES}, indent=2))
    finally:
        if api is not None:
            api.terminate()
            try:
                api.wait(timeout=15)
            except subprocess.TimeoutExpired:
                api.kill()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


FIGURES: list[dict] = []  # one entry per size, for --json


def _warehouse():
    from profiteer_pipeline.defs.warehouse.resources import PostgresResource

    return PostgresResource(database="warehouse")


def bench(settings, root: Path, start: datetime, hours: int, dagster_run: bool) -> str:
    import dagster as dg

    from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
    from profiteer_pipeline.defs.ingest.assets import raw_sales, sales
    from profiteer_pipeline.defs.shop.resources import CatalogResource
    from profiteer_pipeline.shop import store
    from profiteer_pipeline.synth import generate_window
    from profiteer_pipeline.warehouse.io import copy_dataframe
    from profiteer_pipeline.warehouse.raw_sales import build_sales_window
    from profiteer_pipeline.warehouse.schema import SALES_DDL

    end = start + timedelta(hours=hours)
    catalog = CatalogResource()
    frame = generate_window(catalog.products(), start, end, seed=catalog.seed)
    n = len(frame)
    shop = psycopg2.connect(settings.shop.dsn())
    store.ensure_store(shop)
    store.write_window(shop, frame, start, end)

    warehouse = _warehouse()
    airbyte = EmbeddedAirbyte(warehouse=warehouse, work_dir=str(root / "ab"))
    # the data path the two assets run: the resource's sync, then the sales rebuild
    with dg.build_resources({"airbyte": airbyte, "warehouse": warehouse}) as res:
        context = dg.build_asset_context()
        t0 = time.monotonic()
        synced = res.airbyte.sync_window(context, start, end)
        t1 = time.monotonic()
        with res.warehouse.connect() as conn:
            written = len(build_sales_window(conn, start, end))
        t2 = time.monotonic()
    assert synced.rows == written == n, (synced.rows, written, n)
    embedded_seconds = t2 - t0

    line = ""
    if dagster_run:  # the same through one Dagster run over the range (per-partition events)
        t3 = time.monotonic()
        result = dg.materialize(
            [raw_sales, sales],
            resources={"warehouse": warehouse, "airbyte": airbyte},
            tags={
                "dagster/asset_partition_range_start": partition_key(start),
                "dagster/asset_partition_range_end": partition_key(end - timedelta(hours=1)),
            },
            raise_on_error=True,
        )
        assert result.success
        line = f" | Dagster range run: {n / (time.monotonic() - t3):,.0f} rows/s"

    # the baseline: the same rows, read from the shop store and COPYed into a sales-shaped table
    wconn = psycopg2.connect(settings.warehouse.dsn())
    with wconn, wconn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS public.bench_copy")
        cur.execute(SALES_DDL.replace("public.sales", "public.bench_copy").split(";\n")[0])
    t0 = time.monotonic()
    read_back = store.read_window(shop, start, end)
    t1b = time.monotonic()
    with wconn:
        copy_dataframe(wconn, "bench_copy", read_back)
    t2b = time.monotonic()
    with wconn, wconn.cursor() as cur:
        cur.execute("DROP TABLE public.bench_copy")
    wconn.close()
    shop.close()

    embedded = n / embedded_seconds
    copy_only = n / (t2b - t1b)
    select_copy = n / (t2b - t0)
    # the connector's records stream into COPY as they are read: one figure for both
    read = synced.detail.get("read_seconds", synced.detail.get("read_and_load_seconds"))
    land = synced.detail.get("load_seconds", 0.0)
    FIGURES.append(
        {"rows": n, "embedded_rows_per_s": embedded, "copy_rows_per_s": copy_only,
         "select_copy_rows_per_s": select_copy, "read_s": read, "land_s": land,
         "sales_s": t2 - t1}
    )  # fmt: skip
    return (
        f"{n:>8,} | {embedded:>15,.0f} | {read:>5.1f}s {land:>5.2f}s {t2 - t1:>5.2f}s |"
        f" {copy_only:>11,.0f} | {select_copy:>18,.0f} | {select_copy / embedded:,.1f}x" + line
    )


if __name__ == "__main__":
    main()
