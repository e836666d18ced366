"""The calendar every hourly asset shares (UTC hours from a fixed start), and what a range run
writes once rather than once per hour."""

import warnings

import dagster as dg

# Every hourly asset runs a range of hours as one run (`BackfillPolicy.single_run()`): the
# `backfill_policy` parameter is beta in Dagster 1.13, and its BetaWarning would be printed by
# every process that imports these modules (CLI calls, run workers). Filtered as Dagster's docs
# say to silence beta warnings, for this parameter only.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)

HOURLY_START = "2026-01-01-00:00"

hourly_partitions = dg.HourlyPartitionsDefinition(start_date=HOURLY_START, timezone="UTC")


def is_range_run(context: dg.AssetExecutionContext) -> bool:
    """True when the run materializes more than one hour (a single-run backfill)."""
    if not context.has_partition_key_range:
        return False
    keys = context.partition_key_range
    return keys.start != keys.end


def once_per_run(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, metadata: dict[str, object]
) -> dict[str, object]:
    """The metadata for the materialization, with the bulky entries written once per run.

    Dagster records a range run's materialization once per partition, each with all of its
    metadata: a 30-day single-run backfill would store each preview and chart 720 times (about
    80 MB of events). In a range run the markdown entries (previews, charts) go into ONE
    AssetObservation of the asset, on the range's last hour, and each hour's materialization keeps
    the small figures. A one-hour run keeps everything on its materialization.
    """
    if not is_range_run(context):
        return metadata
    bulky = {k: v for k, v in metadata.items() if isinstance(v, dg.MarkdownMetadataValue)}
    if bulky:
        keys = context.partition_key_range
        context.log_event(
            dg.AssetObservation(
                asset_key=asset_key,
                partition=keys.end,
                description=f"the previews of the range run {keys.start} ... {keys.end}",
                metadata={"partition_range": f"{keys.start} ... {keys.end}", **bulky},
            )
        )
    return {k: v for k, v in metadata.items() if k not in bulky}
