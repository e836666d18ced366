"""The sensor that evaluates the automation conditions: on by default, so the graph drives itself."""

import dagster as dg

automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes `products`, `sales_features` and the first `sales_forecast` when "
    "they are missing or their inputs were updated (see each asset's automation condition).",
)
