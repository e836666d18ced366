"""The embedded sync: PyAirbyte runs the shop's declarative manifest in this process.

It lands each window's records in the warehouse's `airbyte_raw.sales`, replacing that window.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import yaml

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.defs.ingest.sync import AirbyteSync, SyncResult, iso_hour
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import raw_sales as raw_sql
from profiteer_pipeline.warehouse.io import replace_window
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "shop" / "airbyte_manifest.yaml"
SOURCE_NAME = "source-profiteer-shop"
STREAM = "sales"
PROGRESS_EVERY_ROWS = 10_000
PROGRESS_EVERY_SECONDS = 10.0


@cache
def load_manifest() -> dict[str, Any]:
    """The declarative source, as PyAirbyte takes it (parsed once per process)."""
    return yaml.safe_load(MANIFEST_PATH.read_text())


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
            raw_sql.ensure_raw_table(conn)
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
