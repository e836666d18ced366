"""One dynamic partition per imported file: the import's name (`orders` for inbox/orders.csv)."""

import dagster as dg

imported_files = dg.DynamicPartitionsDefinition(name="imported_files")
