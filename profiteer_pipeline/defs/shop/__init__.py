"""The simulated shop: its hourly sales, generated from the catalog into the shop store."""
