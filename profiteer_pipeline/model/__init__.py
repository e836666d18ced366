"""The `sales_forecast` model: spec, SQL builders, MindsDB client, evaluation maths and charts.

Pure package (no Dagster import): the Dagster asset in `profiteer_pipeline.assets.model`, the
app and the benchmark all use it.
"""
