"""Dagster definitions, one folder per domain; `profiteer_pipeline.definitions` loads them all."""
