"""Ingest: the Airbyte sync of the shop's sales and the typed `sales` table with its checks."""
