"""Helpers for the metric and check tests: a private database and a stand-in `sales` asset.

The stand-in writes the generator's rows for its partition window straight into `sales` (what
the real ingest path, shop -> API -> Airbyte -> `sales`, produces), so the metric assets and
the checks run against real PostgreSQL without the shop and the sync.
"""

from collections.abc import Callable

import dagster as dg
import pandas as pd
import psycopg2

from profiteer_pipeline.defs.partitions import hourly_partitions
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.warehouse.io import replace_window
from profiteer_pipeline.warehouse.schema import SALES_DDL


def private_database(settings, name: str) -> str:
    """(Re)create database `name` on the session server with an empty `sales`; returns its DSN."""
    admin = psycopg2.connect(settings.warehouse.with_database("postgres").dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    admin.close()
    dsn = settings.warehouse.with_database(name).dsn()
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(SALES_DDL)
    conn.close()
    return dsn


def reset(dsn: str) -> None:
    """Empty `sales` (restoring its DDL) and drop the metric schema and `products`."""
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS public.sales CASCADE")
        cur.execute("DROP TABLE IF EXISTS public.products")
        cur.execute("DROP SCHEMA IF EXISTS analytics CASCADE")
        cur.execute(SALES_DDL)
    conn.close()


def resources(database: str, catalog: CatalogResource | None = None) -> dict[str, object]:
    return {
        "warehouse": PostgresResource(database=database),
        "catalog": catalog or CatalogResource(),
    }


def sales_asset(
    corrupt: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> dg.AssetsDefinition:
    """A stand-in for the ingest engineer's `sales` asset (same key, partitions and policy)."""

    @dg.asset(
        name="sales",
        group_name="ingest",
        partitions_def=hourly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def sales(context: dg.AssetExecutionContext, warehouse: PostgresResource) -> None:
        window = context.partition_time_window
        df = generate_window(load_default_catalog(), window.start, window.end)
        if corrupt is not None:
            df = corrupt(df)
        with warehouse.connect() as conn:
            replace_window(conn, "sales", df, window.start, window.end)

    return sales


def range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
