"""Imports: a real shop's order export turned into hourly product sales (no Dagster here).

- `fields`: the canonical order-line fields, declared once.
- `layouts`: the header layouts recognised without a mapping (UCI Online Retail, Shopify,
  WooCommerce, plain), and the mapping file for anything else.
- `sniff`: what a file is (CSV delimiter and encoding, JSON lines, Parquet, Excel), its header.
- `values`, `dates`: messy cells, numbers with either decimal mark, mixed date formats; vectorized.
- `clean`: each line a sale, a return, or quarantined with its reason and line number.
- `hourly`: the hourly grain (units, revenue, orders, average price; zero hours) and the products.
- `source_file`: Airbyte's File source (`source-file`, in its own venv) run by PyAirbyte.
- `tables`: the warehouse side (raw landing table, one schema per import, one transaction).
- `pipeline`: one import from file to tables; `inbox`, `names`: where files wait, what they are
  called; `commands`: `profiteer import`; `errors`: the one refusal a user sees.
"""
