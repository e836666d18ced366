"""The Airbyte sync behind one interface: embedded PyAirbyte, or an Airbyte server.

`raw_sales` calls `airbyte.sync_window(context, start, end)` and never asks which one it got;
`build_airbyte()` picks the implementation from the environment when the definitions load:

- `EmbeddedAirbyte` (default): PyAirbyte runs `shop/airbyte_manifest.yaml` in-process for the
  window and lands the records in the warehouse's `airbyte_raw.sales`, replacing that window.
- `AirbyteServer` (when AIRBYTE_REST_API_BASE_URL is set): dagster-airbyte's `AirbyteWorkspace`
  client triggers the connection's sync (`POST /jobs`) and polls it (`GET /jobs/{id}`); the
  server's Postgres destination lands the stream in the same `airbyte_raw.sales`.

Either way the asset graph is the same: synthetic_sales -> raw_sales -> sales.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import yaml
from dagster_airbyte import AirbyteWorkspace

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.resources.postgres import PostgresResource
from profiteer_pipeline.warehouse import raw_sales as raw_sql
from profiteer_pipeline.warehouse.io import lock_key, replace_window
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "shop" / "airbyte_manifest.yaml"
SOURCE_NAME = "source-profiteer-shop"
STREAM = "sales"
PROGRESS_EVERY_ROWS = 10_000
PROGRESS_EVERY_SECONDS = 10.0

#: Variables that select the server path; the first one is the switch.
SERVER_REQUIRED = (
    "AIRBYTE_REST_API_BASE_URL",
    "AIRBYTE_CONFIGURATION_API_BASE_URL",
    "AIRBYTE_WORKSPACE_ID",
    "AIRBYTE_CONNECTION_ID",
)
SERVER_OPTIONAL_PAIRS = (
    ("AIRBYTE_CLIENT_ID", "AIRBYTE_CLIENT_SECRET"),
    ("AIRBYTE_USERNAME", "AIRBYTE_PASSWORD"),
)


def iso_hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def load_manifest() -> dict[str, Any]:
    """The declarative source, as PyAirbyte takes it (parsed once per process)."""
    return yaml.safe_load(MANIFEST_PATH.read_text())


@dataclass(frozen=True)
class SyncResult:
    """What one window's sync did, for the run log and the asset's metadata."""

    rows: int  # records now in airbyte_raw.sales for the window
    seconds: float
    mode: str
    source: str  # where the records came from (no credentials)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class AirbyteSync(dg.ConfigurableResource):
    """One interface: sync the hours [start, end) of the shop's `sales` stream into airbyte_raw."""

    def sync_window(
        self, context: dg.AssetExecutionContext, start: datetime, end: datetime
    ) -> SyncResult:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def ensure_raw_table(conn) -> None:
    """Create airbyte_raw.sales if missing; concurrent first runs are serialized."""
    with conn:
        lock_key(conn, RAW_SCHEMA, "ddl")
        with conn.cursor() as cur:
            cur.execute(raw_sql.RAW_SALES_DDL)


def count_window(conn, start: datetime, end: datetime) -> int:
    with conn, conn.cursor() as cur:
        cur.execute(raw_sql.window_count_query(), {"start": start, "end": end})
        return int(cur.fetchone()[0])


# --- embedded: PyAirbyte in-process ------------------------------------------------------------


def _pyairbyte_environment(root: Path) -> None:
    """PyAirbyte's switches, set before it is imported (explicit settings win)."""
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no connector-registry lookups
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("AIRBYTE_NO_UV", "1")
    os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str(root / "logs"))
    Path(os.environ["AIRBYTE_LOGGING_ROOT"]).mkdir(parents=True, exist_ok=True)


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """PyAirbyte records (15 fields + Airbyte's columns) as a frame ready to COPY."""
    frame = pd.DataFrame.from_records(records, columns=raw_sql.RAW_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    # keep microseconds (copy_dataframe's date format has none) and the meta as JSON text
    frame["_airbyte_extracted_at"] = pd.to_datetime(frame["_airbyte_extracted_at"], utc=True).map(
        lambda t: t.isoformat()
    )
    frame["_airbyte_meta"] = frame["_airbyte_meta"].map(lambda m: json.dumps(m or {}))
    return frame


class EmbeddedAirbyte(AirbyteSync):
    """PyAirbyte runs the shop's declarative manifest in this process, for one window at a time.

    Records are read with `get_records` (no PyAirbyte cache: its Postgres cache INSERTs at about
    3k rows/s, its DuckDB cache adds a second copy) and COPYed into airbyte_raw.sales, replacing
    the window in one transaction. The window goes into the source config (`start`/`end`), since
    PyAirbyte does not pass incremental state to manifest sources.
    """

    api_url: str = dg.EnvVar("PROFITEER_SHOP_API_URL")
    api_key: str = dg.EnvVar("PROFITEER_SHOP_API_KEY")
    warehouse: PostgresResource
    page_size: int = 5000
    work_dir: str | None = None  # PyAirbyte's logs; default: <state folder>/airbyte

    def describe(self) -> str:
        return f"PyAirbyte (embedded) reading {self.api_url}"

    def _redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text

    def read_records(
        self, start: datetime, end: datetime, log: Any = None
    ) -> tuple[list[dict[str, Any]], float]:
        """Every record of [start, end) from the shop API through the manifest; (records, seconds)."""
        root = Path(self.work_dir) if self.work_dir else settings_mod.state_dir() / "airbyte"
        _pyairbyte_environment(root)
        import airbyte as ab  # lazy: importing PyAirbyte costs seconds

        config = {
            "api_url": self.api_url.rstrip("/"),
            "api_key": self.api_key,
            "start": iso_hour(start),
            "end": iso_hour(end),
            "page_size": self.page_size,
        }
        t0 = time.monotonic()
        try:
            source = ab.get_source(
                SOURCE_NAME, source_manifest=load_manifest(), config=config, streams=[STREAM]
            )
            records: list[dict[str, Any]] = []
            last_report = t0
            # keep a reference: PyAirbyte's LazyDataset stops the read when it is garbage-collected,
            # which `for r in source.get_records(...)` allows at once (zero records, no error)
            dataset = source.get_records(STREAM)
            for record in dataset:
                records.append(record)
                now = time.monotonic()
                if log and (
                    len(records) % PROGRESS_EVERY_ROWS == 0
                    or now - last_report > PROGRESS_EVERY_SECONDS
                ):
                    log.info(f"read {len(records):,} rows so far from {self.api_url}")
                    last_report = now
        except Exception as exc:  # PyAirbyte wraps connector failures in several types
            raise dg.Failure(
                description=self._redact(
                    f"Airbyte sync from the shop API at {self.api_url} failed: {_reason(exc)}"
                ),
                metadata={"shop_api_url": self.api_url},
                allow_retries=True,
            ) from None
        return records, time.monotonic() - t0

    def sync_window(
        self, context: dg.AssetExecutionContext, start: datetime, end: datetime
    ) -> SyncResult:
        t0 = time.monotonic()
        context.log.info(
            f"syncing {iso_hour(start)} .. {iso_hour(end)} from {self.api_url} with PyAirbyte"
        )
        records, read_seconds = self.read_records(start, end, log=context.log)
        frame = records_frame(records)
        outside = (frame["timestamp"] < start) | (frame["timestamp"] >= end)
        if outside.any():
            context.log.warning(f"dropping {int(outside.sum())} records outside the window")
            frame = frame[~outside]
        t1 = time.monotonic()
        with self.warehouse.connect() as conn:
            ensure_raw_table(conn)
            rows = replace_window(conn, raw_sql.RAW_TABLE, frame, start, end, schema=RAW_SCHEMA)
        load_seconds = time.monotonic() - t1
        context.log.info(
            f"landed {rows:,} rows in {RAW_SCHEMA}.{raw_sql.RAW_TABLE} "
            f"(read {read_seconds:.1f}s, load {load_seconds:.2f}s)"
        )
        return SyncResult(
            rows=rows,
            seconds=time.monotonic() - t0,
            mode="embedded",
            source=self.api_url,
            detail={"read_seconds": round(read_seconds, 3), "load_seconds": round(load_seconds, 3)},
        )


def _reason(exc: BaseException) -> str:
    """A short cause: PyAirbyte's message plus the connector's last error line, if any."""
    parts = [getattr(exc, "message", None) or str(exc).strip().splitlines()[0]]
    log_text = getattr(exc, "log_text", None) or ""
    if isinstance(log_text, list):
        log_text = "\n".join(str(x) for x in log_text)
    errors = [line for line in str(log_text).splitlines() if "error" in line.lower()]
    if errors:
        parts.append(errors[-1].strip()[:500])
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not errors:
        parts.append(f"{type(cause).__name__}: {str(cause).strip()[:300]}")
    return " | ".join(p for p in parts if p)


# --- server: dagster-airbyte's AirbyteWorkspace ------------------------------------------------

_ACTIVE = ("running", "pending", "incomplete")


class AirbyteServer(AirbyteSync):
    """An Airbyte server's connection (shop API source -> warehouse, namespace airbyte_raw).

    The connection syncs incrementally on `timestamp` with the server's own state, so one sync
    brings every generated hour up to date; the window's rows are then counted in the warehouse.
    A sync already running for the connection is awaited first, so this window's shop rows
    (written before this step) are always covered by the sync this step starts.
    """

    workspace: AirbyteWorkspace
    connection_id: str = dg.EnvVar("AIRBYTE_CONNECTION_ID")
    warehouse: PostgresResource

    def describe(self) -> str:
        return f"Airbyte server {self.workspace.rest_api_base_url}, connection {self.connection_id}"

    def _wait(self, context, client, job_id: int, started: float) -> dict[str, Any]:
        poll_timeout = self.workspace.poll_timeout
        while True:
            time.sleep(self.workspace.poll_interval)
            details = client.get_job_details(job_id)
            status = str(details.get("status", "")).lower()
            context.log.info(
                f"Airbyte job {job_id}: {status}, {details.get('rowsSynced') or 0:,} rows,"
                f" {details.get('bytesSynced') or 0:,} bytes after {time.monotonic() - started:.0f}s"
            )
            if status not in _ACTIVE:
                return dict(details)
            if poll_timeout and time.monotonic() - started > poll_timeout:
                raise dg.Failure(f"Airbyte job {job_id} still {status} after {poll_timeout}s")

    def _failure_message(self, client, job_id: int) -> str:
        """Airbyte's own reason, from the configuration API's job attempts (best effort)."""
        try:
            info = client._single_request(  # noqa: SLF001 - the client's retrying request
                method="POST",
                url=f"{client.configuration_api_base_url}/jobs/get",
                data={"id": job_id},
            )
        except Exception:
            return ""
        for attempt in reversed(info.get("attempts") or []):
            failures = ((attempt.get("attempt") or {}).get("failureSummary") or {}).get(
                "failures"
            ) or []
            for failure in failures:
                message = failure.get("externalMessage") or failure.get("internalMessage")
                if message:
                    return str(message)
        return ""

    def sync_window(
        self, context: dg.AssetExecutionContext, start: datetime, end: datetime
    ) -> SyncResult:
        client = self.workspace.get_client()
        t0 = time.monotonic()
        running = [
            job
            for job in client.get_jobs_for_connection(
                self.connection_id, created_after=datetime.now(UTC) - timedelta(days=2)
            )
            if str(job.status).lower() in _ACTIVE
        ]
        for job in running:
            context.log.info(f"Airbyte job {job.id} already running; waiting for it to end")
            self._wait(context, client, job.id, t0)

        started = client.start_sync_job(self.connection_id)
        job_id = started["jobId"]
        context.log.info(
            f"Airbyte job {job_id} started for connection {self.connection_id} "
            f"(window {iso_hour(start)} .. {iso_hour(end)})"
        )
        details: dict[str, Any] = dict(started)
        try:
            details = self._wait(context, client, job_id, time.monotonic())
        finally:
            if str(details.get("status", "")).lower() in _ACTIVE:
                client.cancel_job(job_id)  # interrupted: do not leave the sync running
        status = str(details.get("status", "")).lower()
        if status != "succeeded":
            reason = self._failure_message(client, job_id) or f"job ended {status}"
            raise dg.Failure(
                description=f"Airbyte job {job_id} for connection {self.connection_id} "
                f"{status}: {reason}",
                metadata={"airbyte_job_id": job_id, "status": status},
                allow_retries=False,  # Airbyte already retried the job's attempts itself
            )
        with self.warehouse.connect() as conn:
            ensure_raw_table(conn)
            rows = count_window(conn, start, end)
        return SyncResult(
            rows=rows,
            seconds=time.monotonic() - t0,
            mode="server",
            source=self.describe(),
            detail={
                "airbyte_job_id": job_id,
                "rows_synced_by_job": int(details.get("rowsSynced") or 0),
                "bytes_synced_by_job": int(details.get("bytesSynced") or 0),
            },
        )


# --- the choice --------------------------------------------------------------------------------


def server_configured(environ: dict[str, str] | None = None) -> bool:
    """The server path is chosen when any of its required variables is set."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in SERVER_REQUIRED)


def build_airbyte(
    warehouse: PostgresResource, environ: dict[str, str] | None = None
) -> AirbyteSync:
    """The `airbyte` resource: the server when AIRBYTE_* names one, PyAirbyte otherwise."""
    env = os.environ if environ is None else environ
    if not server_configured(env):
        return EmbeddedAirbyte(warehouse=warehouse)
    missing = [name for name in SERVER_REQUIRED if not env.get(name)]
    if missing:
        raise ValueError(
            "the Airbyte server path needs " + ", ".join(missing) + " (or unset every AIRBYTE_* "
            "server variable to use the embedded PyAirbyte sync)"
        )
    auth: dict[str, Any] = {}
    for first, second in SERVER_OPTIONAL_PAIRS:
        if env.get(first) or env.get(second):
            if not (env.get(first) and env.get(second)):
                raise ValueError(f"set both {first} and {second}, or neither")
            if auth:
                raise ValueError(
                    "set AIRBYTE_CLIENT_ID/SECRET or AIRBYTE_USERNAME/PASSWORD, not both"
                )
            # AIRBYTE_CLIENT_ID -> client_id, AIRBYTE_PASSWORD -> password, ...
            for name in (first, second):
                auth[name.removeprefix("AIRBYTE_").lower()] = dg.EnvVar(name)
    workspace = AirbyteWorkspace(
        rest_api_base_url=dg.EnvVar("AIRBYTE_REST_API_BASE_URL"),
        configuration_api_base_url=dg.EnvVar("AIRBYTE_CONFIGURATION_API_BASE_URL"),
        workspace_id=dg.EnvVar("AIRBYTE_WORKSPACE_ID"),
        poll_interval=float(env.get("AIRBYTE_POLL_INTERVAL", "10")),
        **auth,
    )
    return AirbyteServer(workspace=workspace, warehouse=warehouse)
