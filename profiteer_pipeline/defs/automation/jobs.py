"""Jobs: the hourly partitioned load and the model training."""

import dagster as dg

from profiteer_pipeline.defs.partitions import hourly_partitions

hourly_sales_job = dg.define_asset_job(
    "hourly_sales_job",
    selection=dg.AssetSelection.all().materializable()
    & dg.AssetSelection.groups("shop", "ingest", "metrics"),
    partitions_def=hourly_partitions,
    description="One UTC hour end to end: generate, sync, load `sales`, update the metrics.",
)

# The model: train (held-out twin, then the full model) and run its checks.
train_model_job = dg.define_asset_job(
    "train_model_job",
    selection=dg.AssetSelection.assets("sales_forecast"),
    description="Train `mindsdb.sales_forecast` on all of `sales_features`, evaluate it on the "
    "latest 24 hours, and run its checks (held-out accuracy, price response).",
)
