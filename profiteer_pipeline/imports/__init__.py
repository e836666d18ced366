"""Imports: a real shop's order export turned into hourly product sales (pure; no Dagster).

- `fields`: the canonical order-line fields, declared once.
- `layouts`: the header layouts recognised without a mapping, and the mapping file.
- `sniff`: what a file is (CSV delimiter and encoding, JSON lines, Parquet, Excel) and its header.
- `dates`, `numbers`: messy timestamps and decimals, vectorized.
- `clean`: order lines accepted, kept as returns, or quarantined with a reason and line number.
- `hourly`: the hourly grain (units, revenue, orders, average price; zero hours) and the products.
- `source_file`: Airbyte's File source (`source-file`) run by PyAirbyte on one file.
- `tables`: the warehouse side (raw landing table, one schema per import, one transaction).
"""
