"""The hourly load's schedule (the daily retraining fallback lives in `retraining.py`)."""

import dagster as dg

from profiteer_pipeline.defs.automation.jobs import hourly_sales_job

# At HH:05 each hour, the hour that just ended (the latest complete partition).
hourly_sales_schedule = dg.build_schedule_from_partitioned_job(
    hourly_sales_job,
    name="hourly_sales_schedule",
    minute_of_hour=5,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
