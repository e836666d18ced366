"""A warehouse with data and a trained model, for the app's tests, benchmark and demos.

Pure (no Streamlit, no Dagster): generated rows (`profiteer_pipeline.synth`) are COPYed into
`public.sales`, the catalog into `public.products`, and the metrics' own full refresh fills the
`analytics` tables, exactly as the pipeline's assets do. `train_model` trains the app's model on
MindsDB from the `sales_features` view with the model engineer's `ModelSpec` SQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import psycopg2
from psycopg2 import sql as pgsql

from profiteer_pipeline.model import sql, training
from profiteer_pipeline.model.client import MindsDBClient, ModelVersion
from profiteer_pipeline.model.spec import ModelSpec
from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.synth import Product, generate_window, load_default_catalog
from profiteer_pipeline.warehouse import metrics
from profiteer_pipeline.warehouse.io import copy_dataframe
from profiteer_pipeline.warehouse.products import products_frame, replace_products
from profiteer_pipeline.warehouse.schema import SALES_DDL, SALES_FEATURES_DDL

CHUNK_HOURS = 24 * 91  # generate and COPY about a quarter at a time (~33k rows for 15 products)


def recreate_database(admin: PgUrl, name: str) -> PgUrl:
    """Drop and create database `name` on the server of `admin`; its URL (same login)."""
    conn = psycopg2.connect(admin.with_database("postgres").dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            ident = pgsql.Identifier(name)
            cur.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            cur.execute(pgsql.SQL("CREATE DATABASE {}").format(ident))
    finally:
        conn.close()
    return admin.with_database(name)


def prepare_warehouse(
    url: PgUrl,
    start: datetime,
    hours: int,
    products: Sequence[Product] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> metrics.RefreshStats:
    """Fill `sales` with `hours` generated hours from `start`, `products`, then all metrics."""
    items = list(products or load_default_catalog())
    conn = psycopg2.connect(url.dsn())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SALES_DDL)
            cur.execute(SALES_FEATURES_DDL)
            cur.execute("TRUNCATE public.sales")
        replace_products(conn, products_frame(items))
        done = 0
        t0 = time.perf_counter()
        while done < hours:
            step = min(CHUNK_HOURS, hours - done)
            lo = start + timedelta(hours=done)
            frame = generate_window(items, lo, lo + timedelta(hours=step))
            with conn:
                copy_dataframe(conn, "sales", frame)
            done += step
            if progress:
                progress(f"sales: {done * len(items):,} rows ({time.perf_counter() - t0:.0f} s)")
        with conn, conn.cursor() as cur:
            cur.execute("ANALYZE public.sales")
        metrics.ensure_metric_tables(conn)
        return metrics.refresh_metrics(conn)
    finally:
        conn.close()


def train_model(
    mindsdb_url: str,
    spec: ModelSpec,
    warehouse: PgUrl,
    *,
    since: datetime | None = None,
    timeout: float = 600,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[ModelSpec, ModelVersion]:
    """(Re)create `spec`'s datasource and model on MindsDB and wait until it is trained, with
    the model engineer's training procedure. `since` limits the training rows to the recent
    hours (a small model trains in ~20 s). Returns the spec reading the datasource it made (its
    name follows the connection) and the trained version."""
    client = MindsDBClient(mindsdb_url)
    source = client.ensure_datasource(
        spec.datasource,
        "postgres",
        {
            "host": warehouse.host,
            "port": warehouse.port,
            "user": warehouse.user,
            "password": warehouse.password,
            "database": warehouse.database,
        },
    )
    client.query(sql.drop_model(spec.project, spec.name))  # a fresh model, not a new version
    spec = spec.reading(source.name)
    return spec, training.train(client, spec, since=since, timeout=timeout, log=log).version
