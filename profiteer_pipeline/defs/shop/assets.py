"""The simulated shop's side: each hour's generated sales, written into the shop's own store."""

import time

import dagster as dg

from profiteer_pipeline.defs.partitions import hourly_partitions, once_per_run
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.previews import markdown_table
from profiteer_pipeline.synth import CatalogError


@dg.asset(
    group_name="shop",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"python", "postgres"},
    description="The shop's sales of each UTC hour, generated from the catalog and seed, "
    "in the shop's own store (database `shop`, table `public.shop_sales`).",
)
def synthetic_sales(
    context: dg.AssetExecutionContext, catalog: CatalogResource, shop_store: PostgresResource
) -> dg.MaterializeResult:
    # the generator and the store (numpy, pandas) are imported where they run: the code location
    # loads without them
    from profiteer_pipeline.shop import store
    from profiteer_pipeline.synth import generate_window

    window = context.partition_time_window
    try:
        products = catalog.products()
        frame = generate_window(products, window.start, window.end, seed=catalog.seed)
    except (CatalogError, OSError, ValueError) as exc:
        # before anything is written: a refused catalog changes nothing
        raise dg.Failure(description=f"catalog refused: {exc}", allow_retries=False) from None
    t0 = time.monotonic()
    with shop_store.connect() as conn:
        store.ensure_store(conn)
        rows = store.write_window(conn, frame, window.start, window.end)
    seconds = time.monotonic() - t0
    context.log.info(f"wrote {rows:,} rows to {shop_store.describe()} in {seconds:.2f}s")
    metadata = {
        "dagster/row_count": rows,
        "hours": len(frame["timestamp"].unique()),
        "products": len(products),
        "seed": catalog.seed,
        "window": f"{window.start.isoformat()} .. {window.end.isoformat()}",
        "store": shop_store.describe(),
        "write_seconds": round(seconds, 3),
        "preview": dg.MetadataValue.md(markdown_table(frame)),
    }
    return dg.MaterializeResult(metadata=once_per_run(context, context.asset_key, metadata))
