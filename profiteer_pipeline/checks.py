"""Data-quality checks on the warehouse tables (model checks live beside the model asset)."""

import dagster as dg

all_checks: list[dg.AssetChecksDefinition] = []
