"""Sensors: retraining when enough new data landed or the model degraded, and run failures."""

import dagster as dg

from profiteer_pipeline.retraining import retraining_sensor, run_failure_summary

all_sensors: list[dg.SensorDefinition] = [retraining_sensor, run_failure_summary]
