"""Schedules: the hourly load, and the daily retraining fallback."""

import dagster as dg

from profiteer_pipeline.jobs import hourly_sales_job
from profiteer_pipeline.retraining import daily_retraining_schedule

# At HH:05 each hour, the hour that just ended (the latest complete partition).
hourly_sales_schedule = dg.build_schedule_from_partitioned_job(
    hourly_sales_job,
    name="hourly_sales_schedule",
    minute_of_hour=5,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

all_schedules: list[dg.ScheduleDefinition] = [hourly_sales_schedule, daily_retraining_schedule]
