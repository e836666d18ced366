"""Schedules: the hourly load, and the daily retraining fallback."""

import dagster as dg

all_schedules: list[dg.ScheduleDefinition] = []
