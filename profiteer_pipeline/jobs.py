"""Jobs: the hourly partitioned load and the model training."""

import dagster as dg

from profiteer_pipeline.partitions import hourly_partitions

hourly_sales_job = dg.define_asset_job(
    "hourly_sales_job",
    selection=dg.AssetSelection.all().materializable()
    & dg.AssetSelection.groups("shop", "ingest", "metrics"),
    partitions_def=hourly_partitions,
    description="One UTC hour end to end: generate, sync, load `sales`, update the metrics.",
)

all_jobs = [hourly_sales_job]
