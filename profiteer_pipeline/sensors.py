"""Sensors: retraining when enough new data landed or the model degraded, and run failures."""

import dagster as dg

all_sensors: list[dg.SensorDefinition] = []
