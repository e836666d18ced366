"""Jobs: the hourly partitioned load and the model training."""

import dagster as dg

from profiteer_pipeline.defs.partitions import hourly_partitions

hourly_sales_job = dg.define_asset_job(
    "hourly_sales_job",
    selection=dg.AssetSelection.all().materializable()
    & dg.AssetSelection.groups("shop", "ingest", "metrics"),
    partitions_def=hourly_partitions,
    description="One UTC hour end to end: generate, sync, load `sales`, update the metrics.",
    # One process per run: the multiprocess executor re-imports the code location for each of
    # the job's ~8 steps (20-60 s each on a busy 2-core machine, for ~1 s of work per step).
    # Partitions still run in parallel as separate runs.
    executor_def=dg.in_process_executor,
)

# The model: train (held-out twin, then the full model) and run its checks.
train_model_job = dg.define_asset_job(
    "train_model_job",
    selection=dg.AssetSelection.assets("sales_forecast"),
    description="Train `mindsdb.sales_forecast` on all of `sales_features`, evaluate it on the "
    "latest 24 hours, and run its checks (held-out accuracy, price response).",
    executor_def=dg.in_process_executor,
)
