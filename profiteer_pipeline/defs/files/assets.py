"""Imports: an order export in the inbox -> Airbyte's File source -> raw order lines -> cleaned
lines and quarantine -> hourly import sales -> import products. One dynamic partition per file.

The six tables are written by one step in one transaction, so a bad file writes nothing and a
good one replaces its import whole; each keeps its own asset (and metadata) for the lineage.
"""

import time
from typing import TYPE_CHECKING

import dagster as dg

from profiteer_pipeline.defs.files.file_airbyte import FileImportAirbyte
from profiteer_pipeline.defs.files.partitions import imported_files
from profiteer_pipeline.defs.files.resources import ImportReaders
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.previews import barh_chart, line_chart, markdown_table
from profiteer_pipeline.sources.files import inbox, tables
from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.names import mapping_path, schema_name

if TYPE_CHECKING:
    # the import itself (pandas, numpy) is imported where it runs: the code location loads
    # without it
    from profiteer_pipeline.sources.files.pipeline import ImportResult

GROUP = "imports"

inbox_file = dg.AssetsDefinition(
    specs=[
        dg.AssetSpec(
            "import_inbox_file",
            group_name=GROUP,
            kinds={"file"},
            partitions_def=imported_files,
            description="An order export dropped into the inbox (PROFITEER_INBOX, default "
            "`.profiteer/inbox/`) or copied there by `profiteer import`; `sales_file_sensor` notices it.",
        )
    ]
)

RAW = dg.AssetKey("raw_order_lines")
LINES = dg.AssetKey("import_order_lines")
QUARANTINE = dg.AssetKey("import_quarantine")
SALES = dg.AssetKey("import_sales")
DAILY = dg.AssetKey("import_daily_sales")
PRODUCTS = dg.AssetKey("import_products")
KEYS = (RAW, LINES, QUARANTINE, SALES, DAILY, PRODUCTS)


def _spec(key: dg.AssetKey, deps: list, kinds: set[str], description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=deps,
        group_name=GROUP,
        kinds=kinds,
        partitions_def=imported_files,
        description=description,
    )


def _specs() -> list[dg.AssetSpec]:
    return [
        _spec(
            RAW,
            [inbox_file.key],
            {"airbyte", "postgres"},
            f"Airbyte's File source (source-file) on the file: every record as emitted, in "
            f"`{tables.RAW_SCHEMA}.{tables.RAW_TABLE}` (Airbyte's raw shape plus the import's name "
            "and the line), replaced per import.",
        ),
        _spec(
            LINES,
            [RAW],
            {"pandas", "postgres"},
            "Accepted order lines in `import_<name>.order_lines`: sales, and returns (cancelled "
            "invoices, negative quantities) kept apart with kind = 'return'.",
        ),
        _spec(
            QUARANTINE,
            [RAW],
            {"pandas", "postgres"},
            "Every rejected line in `import_<name>.quarantine`, with its line number, reason, column "
            "and value: no line disappears silently.",
        ),
        _spec(
            SALES,
            [LINES],
            {"pandas", "postgres"},
            "Hourly product sales in `import_<name>.sales`: units, revenue, orders, average price "
            "paid, returns apart, zero where nothing sold, over the import's span.",
        ),
        _spec(
            DAILY,
            [SALES],
            {"pandas", "postgres"},
            "Daily product sales in `import_<name>.daily` (UTC days): units, revenue, orders and "
            "returns, rolled up from the hourly grain for the app's dashboard.",
        ),
        _spec(
            PRODUCTS,
            [LINES],
            {"pandas", "postgres"},
            "The import's products in `import_<name>.products`: name, category, base price (the "
            "median price paid), price range and totals.",
        ),
    ]


def _metadata(result: "ImportResult", seconds: float) -> dict[dg.AssetKey, dict]:
    s = result.summary
    schema = schema_name(result.name)
    common = {
        "import": result.name,
        "file": result.file_name,
        "sha256": result.sha256,
        "unchanged": result.unchanged,
        "import_seconds": round(seconds, 3),
    }
    rejected = s.get("rejected_by_reason", {})
    meta: dict[dg.AssetKey, dict] = {
        RAW: {
            **common,
            "dagster/row_count": s["lines_read"],
            "connector": s.get("connector", ""),
            "format": s.get("format", ""),
            "layout": s.get("layout", ""),
            "columns": dg.MetadataValue.json(s.get("columns", {})),
            "ignored_columns": ", ".join(s.get("ignored_columns", [])) or "none",
            "table": f"{tables.RAW_SCHEMA}.{tables.RAW_TABLE}",
            "timings": dg.MetadataValue.json(s.get("timings", {})),
        },
        LINES: {
            **common,
            "dagster/row_count": s["lines_accepted"] + s["lines_returned"],
            "lines_read": s["lines_read"],
            "lines_accepted": s["lines_accepted"],
            "lines_returned": s["lines_returned"],
            "table": f"{schema}.order_lines",
        },
        QUARANTINE: {
            **common,
            "dagster/row_count": s["lines_rejected"],
            "rejected_by_reason": dg.MetadataValue.json(rejected),
            "table": f"{schema}.quarantine",
        },
        SALES: {
            **common,
            "dagster/row_count": s["product_hours"],
            "products": s["products"],
            "first_hour": s["first_hour"],
            "last_hour": s["last_hour"],
            "units": s["units"],
            "revenue": s["revenue"],
            "table": f"{schema}.sales",
        },
        DAILY: {**common, "table": f"{schema}.daily"},
        PRODUCTS: {**common, "dagster/row_count": s["products"], "table": f"{schema}.products"},
    }
    if rejected:
        meta[QUARANTINE]["chart"] = dg.MetadataValue.md(
            barh_chart(list(rejected), list(rejected.values()), "rejected lines", "lines")
        )
    if result.cleaned is not None:
        meta[LINES]["preview"] = dg.MetadataValue.md(markdown_table(result.cleaned.lines))
        if len(result.cleaned.quarantine):
            meta[QUARANTINE]["preview"] = dg.MetadataValue.md(
                markdown_table(result.cleaned.quarantine)
            )
    if result.sales is not None and result.products is not None:
        daily = result.sales.groupby(result.sales["timestamp"].dt.date)["units"].sum()
        meta[DAILY]["chart"] = dg.MetadataValue.md(
            line_chart({"units": daily}, "units sold per day", "units")
        )
        meta[DAILY]["dagster/row_count"] = result.written.get("daily", 0)
        meta[SALES]["preview"] = dg.MetadataValue.md(
            markdown_table(result.sales[result.sales["units"] > 0])
        )
        top = result.products.sort_values("revenue", ascending=False)
        meta[PRODUCTS]["preview"] = dg.MetadataValue.md(markdown_table(top))
    return meta


@dg.multi_asset(
    specs=_specs(),
    partitions_def=imported_files,
    can_subset=False,
    name="import_order_export",
    description="Import one order export: Airbyte's File source, cleaning, hourly sales and "
    "products, written in one transaction.",
)
def import_order_export(
    context: dg.AssetExecutionContext,
    warehouse: PostgresResource,
    file_airbyte: FileImportAirbyte,
    import_readers: ImportReaders,
):
    from profiteer_pipeline.sources.files.pipeline import run_import

    name = context.partition_key
    t0 = time.monotonic()
    try:
        found = inbox.find(name)
        mapping = mapping_path(found.path.parent, name)
        context.log.info(f"importing {found.path} as {name!r} with {file_airbyte.describe()}")
        result = run_import(
            found.path,
            name,
            warehouse.connect,
            mapping_file=mapping if mapping.exists() else None,
            log=context.log.info,
            read=lambda path, shape, log, sink: file_airbyte.read(log, name, path, shape, sink),
            access=import_readers.access,
        )
    except ImportRefused as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={
                "import": name,
                "column": exc.column or "",
                "example_lines": ", ".join(str(x) for x in exc.lines),
            },
            allow_retries=False,
        ) from None
    seconds = time.monotonic() - t0
    if result.unchanged:
        context.log.info(f"{result.file_name}: same content as the stored import; nothing written")
    meta = _metadata(result, seconds)
    for key in KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata=meta[key])


import_job = dg.define_asset_job(
    "import_job",
    selection=dg.AssetSelection.assets(*KEYS),
    partitions_def=imported_files,
    description="Import one order export (partition = the import's name).",
)
