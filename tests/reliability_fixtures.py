"""Helpers of the reliability, security, bad-input and fault tests: a private pipeline per test module.

`PrivatePipeline` creates its own warehouse and shop databases (on the session's embedded
PostgreSQL, or on a server a fault test starts itself), serves the real shop API for that shop
database in a child process (the API's connection pool is per process), and builds the real
hourly job of `profiteer_pipeline.definitions` with resources pointing there. So row counts and
table contents are not disturbed by other test modules, and a test may stop what it started.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pandas as pd
import psycopg2
from dagster._serdes import serialize_value
from psycopg2 import sql

from profiteer_pipeline.definitions import defs as location
from profiteer_pipeline.defs.automation.jobs import hourly_sales_job
from profiteer_pipeline.defs.ingest.airbyte_embedded import EmbeddedAirbyte
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.stack.processes import ProcessTable, http_ok, wait_until
from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse.raw_sales import AIRBYTE_COLUMNS

FIELDS = list(RECORD_FIELDS)
HOUR_FORMAT = "%Y-%m-%d-%H:%M"


def hour(key: str) -> datetime:
    return datetime.strptime(key, HOUR_FORMAT).replace(tzinfo=UTC)


def key_of(moment: datetime) -> str:
    return moment.strftime(HOUR_FORMAT)


def recreate_database(admin: PgUrl, name: str) -> None:
    conn = psycopg2.connect(admin.with_database("postgres").dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def serve_shop_api(
    table: ProcessTable, name: str, port: int, environ: dict[str, str], timeout: float = 60
):
    """The real shop API (uvicorn) in a child process with `environ`; its process record."""
    cmd = [sys.executable, "-m", "uvicorn", "profiteer_pipeline.shop.api:app",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    rec = table.spawn(name, cmd, environ, port=port)
    try:
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/health"),
            timeout=timeout, name=f"shop API {name}", log=rec.log, pid=rec.pid,
        )  # fmt: skip
    except Exception:
        table.stop(name)
        raise
    return rec


@dataclass
class PrivatePipeline:
    """Private databases `<name>_wh` and `<name>_shop`, their shop API, and the hourly job."""

    name: str
    admin: PgUrl  # a superuser login on the server (its database is irrelevant)
    state: Path
    api_port: int
    api_key: str
    catalog: CatalogResource = field(default_factory=CatalogResource)
    table: ProcessTable = field(init=False)

    def __post_init__(self) -> None:
        self.table = ProcessTable(self.state / "run", self.state / "logs")

    @property
    def warehouse_db(self) -> str:
        return f"{self.name}_wh"

    @property
    def shop_db(self) -> str:
        return f"{self.name}_shop"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def dsn(self, database: str) -> str:
        return self.admin.with_database(database).dsn()

    def environment(self) -> dict[str, str]:
        """What the shop API child gets: the server's coordinates, this shop database, the key."""
        a = self.admin
        return {
            **os.environ,
            "PROFITEER_DATABASE_URL": a.with_database(self.warehouse_db).dsn(),
            "PROFITEER_PG_HOST": a.host,
            "PROFITEER_PG_PORT": str(a.port),
            "PROFITEER_PG_USER": a.user,
            "PROFITEER_PG_PASSWORD": a.password,
            "PROFITEER_WAREHOUSE_DB": self.warehouse_db,
            "PROFITEER_SHOP_DB": self.shop_db,
            "PROFITEER_SHOP_API_KEY": self.api_key,
            "PROFITEER_STATE_DIR": str(self.state),
        }

    def create(self) -> PrivatePipeline:
        for db in (self.warehouse_db, self.shop_db):
            recreate_database(self.admin, db)
        return self

    def start_api(self) -> None:
        serve_shop_api(self.table, f"{self.name}-shop-api", self.api_port, self.environment())

    def stop_api(self) -> None:
        self.table.stop(f"{self.name}-shop-api", timeout=10)

    def resources(self, **overrides) -> dict[str, object]:
        """The code location's resources, but every coordinate given explicitly."""
        a = self.admin

        def pg(database: str) -> PostgresResource:
            return PostgresResource(
                host=a.host, port=a.port, user=a.user, password=a.password, database=database
            )

        warehouse = pg(self.warehouse_db)
        out: dict[str, object] = dict(location.resources)  # every key the location needs
        out |= {
            "catalog": self.catalog,
            "warehouse": warehouse,
            "shop_store": pg(self.shop_db),
            "airbyte": EmbeddedAirbyte(
                warehouse=warehouse,
                api_url=self.api_url,
                api_key=self.api_key,
                work_dir=str(self.state / "airbyte"),
            ),
        }
        out.update(overrides)
        return out

    def job(self, **overrides) -> dg.JobDefinition:
        """The real `hourly_sales_job` (its assets and the checks on them) on our resources."""
        defs = dg.Definitions(
            assets=location.assets,
            asset_checks=location.asset_checks,
            jobs=[hourly_sales_job],
            executor=location.executor,
            resources=self.resources(**overrides),
        )
        return defs.resolve_job_def(hourly_sales_job.name)

    def run(
        self,
        partition: str | tuple[str, str],
        instance: dg.DagsterInstance | None = None,
        raise_on_error: bool = True,
        **overrides,
    ) -> dg.ExecuteInProcessResult:
        """One run of the hourly job: one partition, or (first, last) as a single-run range."""
        job = self.job(**overrides)
        if isinstance(partition, tuple):
            first, last = partition
            tags = {
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            }
            return job.execute_in_process(
                instance=instance, tags=tags, raise_on_error=raise_on_error
            )
        return job.execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=raise_on_error
        )

    # --- reading the tables back ----------------------------------------------------------

    def query(self, database: str, statement: str | sql.Composable, params=None) -> pd.DataFrame:
        with psycopg2.connect(self.dsn(database), options="-c timezone=UTC") as conn:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
        conn.close()
        return frame

    def tables(self, start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
        """shop store, raw landing, `sales` rows of [start, end), and every metric table, sorted.

        Columns that legitimately differ between two loads of the same data are left out:
        Airbyte's per-sync ids and extraction times, and the metric tables' `updated_at`.
        """
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in FIELDS)

        def rows(database: str, schema: str, table: str) -> pd.DataFrame:
            query = sql.SQL(
                'SELECT {} FROM {} WHERE "timestamp" >= %s AND "timestamp" < %s '
                'ORDER BY "timestamp", product_id'
            ).format(cols, sql.Identifier(schema, table))
            return self.query(database, query, (start, end))

        out = {
            "shop": rows(self.shop_db, "public", "shop_sales"),
            "raw": rows(self.warehouse_db, "airbyte_raw", "sales"),
            "sales": rows(self.warehouse_db, "public", "sales"),
        }
        out.update(self.metric_tables())
        return out

    def metric_tables(self) -> dict[str, pd.DataFrame]:
        from profiteer_pipeline.warehouse import metrics as m

        out = {}
        for table in m.METRIC_TABLES:
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(m.SCHEMA, table))
            frame = self.query(self.warehouse_db, query)
            frame = frame.drop(columns=[c for c in ("updated_at",) if c in frame])
            out[f"analytics.{table}"] = frame.sort_values(list(frame.columns)).reset_index(
                drop=True
            )
        return out

    def raw_count(self, start: datetime, end: datetime) -> int:
        frame = self.query(
            self.warehouse_db,
            'SELECT count(*) AS n FROM airbyte_raw.sales WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, end),
        )
        return int(frame["n"].iloc[0])


# --- searching for leaked secrets -------------------------------------------------------------


def forms(secret: str) -> list[str]:
    """The ways a secret could show up: as is, URL-encoded, JSON- and SQL-escaped."""
    return sorted(
        {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], secret.replace("'", "''")}
    )


def leaks(texts: dict[str, str], secrets: list[str]) -> list[str]:
    return [f"{secret!r} in {where}" for where, text in texts.items() for s in secrets
            for secret in forms(s) if secret in text]  # fmt: skip


def event_texts(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Every event of the run, serialized whole: messages, metadata, failure data, stack traces."""
    return {
        f"event {i} ({e.dagster_event_type or 'log'})": serialize_value(e)
        for i, e in enumerate(instance.all_logs(run_id))
    }


def file_texts(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for path in root.rglob("*") if root.exists() else []:
            if path.is_file():
                out[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return out


def wait_for(check, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


__all__ = [
    "AIRBYTE_COLUMNS",
    "FIELDS",
    "PrivatePipeline",
    "event_texts",
    "file_texts",
    "leaks",
    "hour",
    "key_of",
    "recreate_database",
    "serve_shop_api",
    "wait_for",
]
