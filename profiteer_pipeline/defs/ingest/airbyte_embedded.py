"""The embedded sync: the shop's declarative manifest runs in this process, through the Airbyte CDK.

It lands each window's records in the warehouse's `airbyte_raw.sales`, replacing that window.

The records come out of the Airbyte connector itself (airbyte-cdk's `ConcurrentDeclarativeSource`
running `shop/airbyte_manifest.yaml`, the same class PyAirbyte runs for a manifest), read as the
connector's `AirbyteMessage`s and streamed into one COPY while the connector is still reading. So
none of PyAirbyte's per-record work happens here (each message serialized to JSON and parsed back,
a `StreamRecord` built per record, its cache's staging), and PyAirbyte's own import (about 6 s) is
not paid by a run. Measured in `benchmarks/bench_ingest.py`.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from psycopg2 import sql

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.defs.ingest.sync import AirbyteSync, SyncResult, iso_hour
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import raw_sales as raw_sql
from profiteer_pipeline.warehouse.io import lock_key
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "shop" / "airbyte_manifest.yaml"
SOURCE_NAME = "source-profiteer-shop"
STREAM = "sales"
PROGRESS_EVERY_SECONDS = 10.0
FIELDS = list(raw_sql.RECORD_FIELDS)
COPY_CHUNK_ROWS = 2_000  # rows formatted per chunk handed to COPY


@cache
def load_manifest() -> dict[str, Any]:
    """The declarative source (parsed once per process)."""
    return yaml.safe_load(MANIFEST_PATH.read_text())


def _airbyte_environment(root: Path) -> None:
    """Airbyte's switches, set before the CDK is imported (explicit settings win)."""
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no connector-registry lookups
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("AIRBYTE_NO_UV", "1")
    os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str(root / "logs"))
    Path(os.environ["AIRBYTE_LOGGING_ROOT"]).mkdir(parents=True, exist_ok=True)


class ConnectorError(Exception):
    """The connector failed; the message carries its own error lines."""


def connector_records(config: dict[str, Any], stream: str = STREAM) -> Iterator[tuple[dict, int]]:
    """(record data, emitted_at in ms) of every record the manifest's connector emits for `stream`.

    The connector's error trace messages are collected; a failed read raises ConnectorError with
    them (the CDK's own exception alone says only that the stream failed).
    """
    # the CDK's init_logger (run when its entrypoint module is first imported) points the ROOT
    # logger at stdout as Airbyte JSON lines (what a connector process prints for its platform):
    # in this process that would reformat every log line, so the root logger is put back as it
    # was; the connector logs through the `airbyte` logger, like any library
    root = logging.getLogger()
    root_handlers, root_level = root.handlers[:], root.level
    # lazy: the CDK's import costs about 2 s, paid only where a sync runs
    from airbyte_cdk.models import (
        ConfiguredAirbyteCatalog,
        ConfiguredAirbyteStream,
        DestinationSyncMode,
        SyncMode,
        TraceType,
        Type,
    )
    from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
        ConcurrentDeclarativeSource,
    )
    from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit
    from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets

    logger = logging.getLogger(f"airbyte.{SOURCE_NAME}")
    source = ConcurrentDeclarativeSource(source_config=load_manifest(), config=config)
    root.handlers[:], root.level = root_handlers, root_level
    # what the connector's entrypoint does: its log lines and errors mask the spec's secrets
    # (`airbyte_secret`: the API key)
    spec = source.spec(logger)
    update_secrets(get_secrets(spec.connectionSpecification, config))
    # what the entrypoint checks before a read: the config against the connector's spec
    try:
        check_config_against_spec_or_exit(config, spec)
    except Exception as exc:
        raise ConnectorError(str(getattr(exc, "message", None) or exc)) from None
    streams = {s.name: s for s in source.discover(logger, config).streams}
    catalog = ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=streams[stream],
                sync_mode=SyncMode.incremental,  # what PyAirbyte asks for; the window is the config's
                destination_sync_mode=DestinationSyncMode.append,
            )
        ]
    )
    root.handlers[:], root.level = root_handlers, root_level
    errors: list[str] = []
    RECORD, TRACE = Type.RECORD, Type.TRACE
    try:
        for message in source.read(logger, config, catalog, state=[]):
            if message.type is RECORD:
                yield message.record.data, message.record.emitted_at
            elif message.type is TRACE and message.trace.type is TraceType.ERROR:
                error = message.trace.error
                internal = (error.internal_message or "")[:300]
                errors.append(" ".join(filter(None, [error.message, internal])))
    except Exception as exc:  # the CDK raises its traced exception after the error traces
        detail = str(getattr(exc, "message", None) or exc).strip().splitlines()[:1]
        raise ConnectorError(" | ".join([*errors, *detail]) or type(exc).__name__) from exc
    if errors:
        raise ConnectorError(" | ".join(errors))


class _Chunks(io.RawIOBase):
    """A read-only byte stream over an iterator of byte chunks (what COPY FROM STDIN reads)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


class _WindowRows:
    """Formats the connector's records as CSV rows for COPY, counting them; records outside
    [start, end) are counted apart and not written."""

    def __init__(self, records: Iterable[tuple[dict, int]], start: datetime, end: datetime, log):
        self.records = records
        self.start, self.end = start, end
        self.rows = self.outside = 0
        self.log = log
        self.sync_id = f"{int(time.time() * 1000):013d}{os.urandom(4).hex()}"
        self.error: ConnectorError | None = None  # why the connector failed, if it did

    def chunks(self) -> Iterator[bytes]:
        """CSV chunks for COPY; a connector failure is kept in `error` (psycopg2 reports an
        exception raised while COPY reads its input only as a failed COPY)."""
        try:
            yield from self._chunks()
        except ConnectorError as exc:
            self.error = exc
            raise

    def _chunks(self) -> Iterator[bytes]:
        buf = io.StringIO()
        # strings quoted, numbers bare, None an unquoted empty field: COPY's CSV NULL
        writerows = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows
        # the shop's timestamps are `YYYY-MM-DDTHH:MM:SSZ`: compared as text against the window's
        # bounds in that form (any other form is parsed)
        low, high = iso_hour(self.start), iso_hour(self.end)
        get_fields = itemgetter_or_none(FIELDS)
        extracted: dict[int, str] = {}
        last_report = time.monotonic()
        batch: list[list] = []
        for data, emitted_at in self.records:
            ts = data.get("timestamp")
            if not (
                isinstance(ts, str) and len(ts) == 20 and ts[-1] == "Z" and low <= ts < high
            ) and not self._inside(ts):
                self.outside += 1
                continue
            at = extracted.get(emitted_at)
            if at is None:
                at = extracted[emitted_at] = datetime.fromtimestamp(
                    emitted_at / 1000, tz=UTC
                ).isoformat()
            row = get_fields(data)
            row += (f"{self.sync_id}{self.rows + len(batch):010d}", at, "{}")
            batch.append(row)
            if len(batch) >= COPY_CHUNK_ROWS:
                self.rows += len(batch)
                writerows(batch)
                batch.clear()
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
                now = time.monotonic()
                if self.log and now - last_report > PROGRESS_EVERY_SECONDS:
                    self.log.info(f"read {self.rows:,} rows so far")
                    last_report = now
        if batch:
            self.rows += len(batch)
            writerows(batch)
            yield buf.getvalue().encode()

    def _inside(self, ts: object) -> bool:
        """A timestamp in another text form (an offset, fractions): parsed, then compared."""
        if not isinstance(ts, str) or (len(ts) == 20 and ts.endswith("Z")):
            return False
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            return False
        return moment.tzinfo is not None and self.start <= moment < self.end


def itemgetter_or_none(fields: list[str]):
    """f(record) -> [record.get(field) for field in fields], as a list (missing fields: None)."""

    def get(data: dict) -> list:
        return [data.get(f) for f in fields]

    return get


class EmbeddedAirbyte(AirbyteSync):
    """The shop's declarative manifest runs in this process (the Airbyte CDK), one window at a time.

    Its records stream into a COPY into airbyte_raw.sales while the connector reads, replacing
    the window in one transaction (a failed read rolls the window back to what it was). The
    window goes into the source config (`start`/`end`): each run reads exactly its hours.
    """

    api_url: str = dg.EnvVar("PROFITEER_SHOP_API_URL")
    api_key: str = dg.EnvVar("PROFITEER_SHOP_API_KEY")
    warehouse: PostgresResource
    page_size: int = 10000
    work_dir: str | None = None  # Airbyte's logs; default: <state folder>/airbyte

    def describe(self) -> str:
        return f"Airbyte CDK (embedded) reading {self.api_url}"

    def _redact(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text

    def source_config(self, start: datetime, end: datetime) -> dict[str, Any]:
        return {
            "api_url": self.api_url.rstrip("/"),
            "api_key": self.api_key,
            "start": iso_hour(start),
            "end": iso_hour(end),
            "page_size": self.page_size,
        }

    def records(self, start: datetime, end: datetime) -> Iterator[tuple[dict, int]]:
        """Every record of [start, end) as the connector emits it: (data, emitted_at ms)."""
        root = Path(self.work_dir) if self.work_dir else settings_mod.state_dir() / "airbyte"
        _airbyte_environment(root)
        return connector_records(self.source_config(start, end))

    def sync_window(
        self, context: dg.AssetExecutionContext, start: datetime, end: datetime
    ) -> SyncResult:
        t0 = time.monotonic()
        context.log.info(
            f"syncing {iso_hour(start)} .. {iso_hour(end)} from {self.api_url} (Airbyte CDK)"
        )
        rows = _WindowRows(self.records(start, end), start, end, context.log)
        table = sql.Identifier(RAW_SCHEMA, raw_sql.RAW_TABLE)
        copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c in raw_sql.RAW_COLUMNS)
        )
        try:
            with self.warehouse.connect() as conn:
                raw_sql.ensure_raw_table(conn)
                with conn:  # one transaction: the window's old rows go only if the read succeeds
                    lock_key(
                        conn, RAW_SCHEMA, raw_sql.RAW_TABLE, start.isoformat(), end.isoformat()
                    )
                    with conn.cursor() as cur:
                        cur.execute(
                            sql.SQL(
                                'DELETE FROM {} WHERE "timestamp" >= %s AND "timestamp" < %s'
                            ).format(table),
                            (start, end),
                        )
                        cur.copy_expert(copy.as_string(conn), _Chunks(rows.chunks()), size=1 << 16)
        except Exception as exc:
            if rows.error is None and not isinstance(exc, ConnectorError):
                raise
            raise dg.Failure(
                description=self._redact(
                    f"Airbyte sync from the shop API at {self.api_url} failed: {rows.error or exc}"
                ),
                metadata={"shop_api_url": self.api_url},
                allow_retries=True,
            ) from None
        seconds = time.monotonic() - t0
        if rows.outside:
            context.log.warning(f"dropped {rows.outside} records outside the window")
        context.log.info(
            f"landed {rows.rows:,} rows in {RAW_SCHEMA}.{raw_sql.RAW_TABLE} in {seconds:.1f}s "
            f"(read and COPY streamed together)"
        )
        return SyncResult(
            rows=rows.rows,
            seconds=seconds,
            mode="embedded",
            source=self.api_url,
            detail={"read_and_load_seconds": round(seconds, 3)},
        )
