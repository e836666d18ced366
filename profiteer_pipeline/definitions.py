"""The code location: `dagster ... -m profiteer_pipeline.definitions` and workspace.yaml load this.

Everything Dagster runs lives under `profiteer_pipeline/defs/<domain>/` and is found there, so no
list of assets, checks, jobs, schedules or sensors is kept by hand.
"""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
