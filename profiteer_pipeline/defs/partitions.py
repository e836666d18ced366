"""The calendar every hourly asset shares: UTC hours from a fixed start."""

import dagster as dg

HOURLY_START = "2026-01-01-00:00"

hourly_partitions = dg.HourlyPartitionsDefinition(start_date=HOURLY_START, timezone="UTC")
