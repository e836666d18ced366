"""The code location: `dagster ... -m profiteer_pipeline.definitions` and workspace.yaml load this."""

import dagster as dg

from profiteer_pipeline import assets, checks, jobs, schedules, sensors
from profiteer_pipeline.resources import build_resources

defs = dg.Definitions(
    assets=dg.load_assets_from_package_module(assets),
    asset_checks=[*dg.load_asset_checks_from_package_module(assets), *checks.all_checks],
    jobs=jobs.all_jobs,
    schedules=schedules.all_schedules,
    sensors=sensors.all_sensors,
    resources=build_resources(),
)
