"""One import from file to hourly sales: sniff, resolve the columns, sync through Airbyte's File
source, clean, aggregate, write. The Dagster assets and `profiteer import` both run this.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.model.daily_features import MODEL_FEATURES
from profiteer_pipeline.sources.files import (
    conformed,
    costs,
    described,
    merchandise,
    source_file,
    tables,
)
from profiteer_pipeline.sources.files.clean import REASONS, Cleaned, clean
from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.hourly import daily_sales, hourly_sales
from profiteer_pipeline.sources.files.layouts import ImportOptions, Resolved, load_mapping, resolve
from profiteer_pipeline.sources.files.names import schema_name, validate_name
from profiteer_pipeline.sources.files.sniff import FileShape, content_hash, sniff
from profiteer_pipeline.warehouse import source_tables

Connect = Callable[[], AbstractContextManager[PgConnection]]
Log = Callable[[str], None]
Sink = Callable[[list[str]], None]
#: How the records are read: (file, its shape, log, sink for the records' JSON as they arrive)
#: -> RawRead. Default: PyAirbyte runs source-file.
Reader = Callable[[Path, FileShape, Log, Sink], source_file.RawRead]


def embedded_reader(path: Path, shape: FileShape, log: Log, sink: Sink) -> source_file.RawRead:
    return source_file.read_file(path, shape, log=log, sink=sink)


@dataclass
class ImportResult:
    name: str
    file_name: str
    sha256: str
    unchanged: bool  # the same content was already imported: nothing was written
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    cleaned: Cleaned | None = None
    sales: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    written: dict[str, int] = field(default_factory=dict)


def plan(path: Path, mapping_file: Path | None) -> tuple[FileShape, Resolved | ImportOptions]:
    """What the file is and which column holds each field (fails before any sync). For a file
    whose header is only known from its records (Excel), the options, resolved after the read."""
    options = load_mapping(mapping_file) if mapping_file else None
    shape = sniff(
        path,
        delimiter=options.delimiter if options else None,
        encoding=options.encoding if options else None,
    )
    if not shape.headers:
        return shape, options or ImportOptions()
    return shape, resolve(shape.headers, options or ImportOptions())


def transform(
    frame: pd.DataFrame, lines: np.ndarray, resolved: Resolved
) -> tuple[Cleaned, pd.DataFrame, pd.DataFrame]:
    cleaned = clean(frame, lines, resolved)
    try:
        sales, products = hourly_sales(cleaned)
    except ValueError as exc:
        raise ImportRefused(str(exc)) from None
    return cleaned, sales, products


def summarize(
    cleaned: Cleaned,
    sales: pd.DataFrame,
    products: pd.DataFrame,
    shape: FileShape,
    resolved: Resolved,
) -> dict[str, Any]:
    sold = cleaned.lines[cleaned.lines["kind"] == "sale"]
    first, last = sold["hour"].min(), sold["hour"].max()
    span = int((last - first) / pd.Timedelta(hours=1)) + 1
    hours = len(sales) // max(len(products), 1)  # every product has the same hours
    return {
        **cleaned.summary(),
        "products": len(products),
        # distinct orders where the file names them (None: it has order lines only)
        "orders": int(sold["order_id"].nunique()) if sold["order_id"].notna().any() else None,
        "product_hours": len(sales),
        "hours": hours,  # the grid: every hour of the span, or (a big file) its trading hours
        "grain": "every hour" if hours == span else f"trading hours ({hours:,} of {span:,})",
        "first_hour": first.isoformat(),
        "last_hour": last.isoformat(),
        "units": float(sales["units"].sum()),
        "revenue": round(float(sales["revenue"].sum()), 4),
        "format": shape.format,
        "delimiter": shape.delimiter,
        "encoding": shape.encoding,
        "layout": resolved.layout,
        "columns": resolved.columns,
        "ignored_columns": list(cleaned.ignored_columns),
        "row_number_columns": list(cleaned.row_number_columns),
        "decimal_marks": cleaned.decimal,
        "timestamps_from_order": cleaned.timestamps_from_order,
        "non_merchandise": _non_merchandise(products),
        "currency": resolved.options.currency,
    }


def _non_merchandise(products: pd.DataFrame) -> list[dict[str, Any]]:
    """The products that are not priced (postage, fees, ...), with their units and revenue."""
    out = merchandise.excluded(products).merge(
        products[["product_id", "units", "revenue"]].astype({"product_id": str}), on="product_id"
    )
    return [
        {**row, "units": float(row["units"]), "revenue": round(float(row["revenue"]), 4)}
        for row in out.to_dict("records")
    ]


def run_import(
    path: str | Path,
    name: str,
    connect: Connect,
    *,
    mapping_file: str | Path | None = None,
    log: Log | None = None,
    force: bool = False,
    read: Reader = embedded_reader,
    access: tables.ImportAccess = tables.PIPELINE_ONLY,
) -> ImportResult:
    """Import `path` as `name`: unchanged content is skipped, anything else replaces the import,
    readable by the roles `access` names.

    Raises ImportRefused (one message, the column and example lines) and writes nothing then.
    """
    say = log or (lambda _msg: None)
    path = Path(path)
    validate_name(name)
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    timings: dict[str, float] = {}
    t = time.monotonic()
    sha = content_hash(path)
    mapping_path = Path(mapping_file) if mapping_file else None
    if mapping_path is not None:  # a changed mapping changes the import
        sha = content_hash_pair(sha, mapping_path)
    with connect() as conn:
        with conn:  # committed now: the import's long transaction below must not create it
            tables.ensure_raw(conn)
        stored = tables.previous(conn, name)
    if stored and stored["sha256"] == sha and not force:
        say(
            f"{path.name}: same content as the import {name!r} of {stored['imported_at']}; unchanged"
        )
        with connect() as conn, conn:  # an import made before the metric tables gets them now
            if not conformed.exists(conn, schema_name(name)):
                conformed.create(conn, schema_name(name))
                conformed.refresh(conn, schema_name(name))
                say(f"{name}: its metric tables were missing (made before them): built now")
        return ImportResult(name, path.name, sha, True, stored["summary"])
    shape, planned = plan(path, mapping_path)
    timings["inspect"] = time.monotonic() - t
    say(
        f"{path.name}: {shape.format}"
        + (f" (delimiter {shape.delimiter!r}, {shape.encoding})" if shape.delimiter else "")
        + (
            f", {planned.layout} layout: "
            + ", ".join(f"{k} <- {v}" for k, v in planned.columns.items())
            if isinstance(planned, Resolved)
            else ", columns resolved from its records"
        )
    )

    # one transaction from here: the raw rows stream in while the connector reads, the tables
    # follow; a refusal anywhere rolls it all back, so a bad file writes nothing
    first_line = source_file.line_numbers(shape, 1)[0]
    extracted_at = pd.Timestamp.now(tz="UTC").floor("ms").to_pydatetime()
    parts: dict[str, float] = {}
    with connect() as conn, conn:
        tables.begin(conn, name)
        raw_copy = tables.RawCopy(conn, name, first_line, extracted_at)
        t = time.monotonic()
        try:
            raw = read(path, shape, say, raw_copy.write)
        except BaseException:
            raw_copy.abort()
            raise
        timings["airbyte_read"] = time.monotonic() - t
        say(f"{raw.connector}: {raw.records:,} records in {raw.seconds:.1f}s")
        t = time.monotonic()
        raw_rows = raw_copy.close()
        timings["raw_copy_wait"] = time.monotonic() - t
        if raw.records == 0:
            raise ImportRefused(f"{path.name}: the file has a header but no lines")
        options = planned.options if isinstance(planned, Resolved) else planned
        resolved = planned if isinstance(planned, Resolved) else None
        if resolved is None or list(raw.frame.columns) != list(shape.headers):
            # the reader's names (pandas calls an empty header `Unnamed: 0`, a repeated one `X.1`)
            resolved = resolve(list(map(str, raw.frame.columns)), options)
        lines = np.asarray(source_file.line_numbers(shape, raw.records))

        t = time.monotonic()
        cleaned, sales, products = transform(raw.frame, lines, resolved)
        timings["clean_and_hourly"] = time.monotonic() - t
        summary = summarize(cleaned, sales, products, shape, resolved)
        summary["connector"] = raw.connector
        if "unit_cost" in resolved.columns:
            unit_costs = costs.from_lines(cleaned.lines)
            summary["unit_costs"] = len(unit_costs)

        t = time.monotonic()
        record = {
            "file_name": path.name,
            "sha256": sha,
            "format": shape.format,
            "layout": resolved.layout,
            "connector": raw.connector,
            "summary": summary,
        }
        written = {"raw": raw_rows}
        conformed.drop(conn, schema_name(name))
        written |= tables.write_tables(
            conn,
            name=name,
            record=record,
            frames={
                "order_lines": cleaned.lines,
                "quarantine": cleaned.quarantine,
                "sales": sales,
                "daily": daily_sales(sales),
                "products": products,
            },
            access=access,
            timings=parts,
        )
        if described.capabilities(summary).unit_costs:  # the file's costs replace any before
            written["unit_costs"], _ = costs.write(conn, schema_name(name), unit_costs)
        # the model's rows and advice were learnt from the data just replaced: gone with it, so
        # the app says the model is retraining (import_forecast follows) instead of showing them
        tables.drop_tables(
            conn,
            schema_name(name),
            [MODEL_FEATURES.name, *source_tables.IMPORT_RESULTS],
        )
        # the shop's metric tables, in the import's schema, from its new sales (same transaction)
        conformed.create(conn, schema_name(name))
        t_metrics = time.monotonic()
        refreshed = conformed.refresh(conn, schema_name(name))
        parts["write_metrics"] = time.monotonic() - t_metrics
        written |= {f"metrics.{k}": v for k, v in refreshed.rows.items()}
        t_commit = time.monotonic()
    parts["write_commit"] = time.monotonic() - t_commit
    timings["write"] = time.monotonic() - t
    summary["write_parts"] = {k: round(v, 3) for k, v in parts.items()}
    summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return ImportResult(
        name, path.name, sha, False, summary, timings, cleaned, sales, products, written
    )


def content_hash_pair(sha: str, mapping: Path) -> str:
    import hashlib

    return hashlib.sha256((sha + content_hash(mapping)).encode()).hexdigest()


def iter_summary_lines(summary: dict[str, Any]) -> Iterator[str]:
    """The summary as a person reads it (the CLI prints these)."""
    yield f"lines read:      {summary['lines_read']:,}"
    yield f"accepted:        {summary['lines_accepted']:,} sales lines"
    yield f"returns:         {summary['lines_returned']:,} (kept apart, never counted as sales)"
    yield f"rejected:        {summary['lines_rejected']:,}"
    rejected = summary["rejected_by_reason"]  # stored as jsonb, which orders keys its own way
    order = {reason: i for i, reason in enumerate(REASONS)}
    for reason, count in sorted(rejected.items(), key=lambda kv: order.get(kv[0], len(order))):
        yield f"  {reason + ':':<22} {count:,}"
    yield f"products:        {summary['products']:,} with sales"
    if "units" in summary:
        yield f"units sold:      {summary['units']:,.0f}"
        yield f"revenue:         {summary['revenue']:,.2f} {summary.get('currency') or ''}".rstrip()
    currency = summary.get("currency")
    yield "currency:        " + (
        currency or "not given (pages show the app's default; pass --currency, e.g. GBP)"
    )
    yield "sections:        " + "; ".join(described.capabilities(summary).lines())
    if "unit_costs" in summary:
        yield (
            f"unit costs:      {summary['unit_costs']:,} products (the file's unit_cost column, "
            "each product's latest): the advice maximizes profit"
        )
    yield f"first hour:      {summary['first_hour']}"
    yield f"last hour:       {summary['last_hour']}"
    if summary.get("grain", "every hour") != "every hour":
        yield f"hourly grain:    {summary['grain']}: too many product-hours for every hour"
    excluded = summary.get("non_merchandise") or []
    if excluded:
        yield f"not priced:      {len(excluded)} non-merchandise (their sales still count)"
        for row in excluded:
            yield f"  {row['product_id']:<14} {row['product_name'] or '—'} ({row['reason']})"
