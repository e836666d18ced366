"""Warehouse SQL and I/O helpers. Pure: no Dagster import, so the app and tests reuse them."""
