"""The `sales_forecast` model: spec, SQL builders, MindsDB client and evaluation maths.

Pure package (no Dagster import): the Dagster asset in `profiteer_pipeline.defs.model`, the app
and the benchmark all use it.
"""
