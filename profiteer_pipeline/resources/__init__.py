"""Resources: one interface per external system; the environment picks the implementation."""

from __future__ import annotations

import dagster as dg

from profiteer_pipeline.resources.catalog import CatalogResource
from profiteer_pipeline.resources.postgres import PostgresResource


def build_resources() -> dict[str, object]:
    """The resources for `profiteer_pipeline.definitions`, chosen from the environment."""
    return {
        "catalog": CatalogResource(),
        "warehouse": PostgresResource(database=dg.EnvVar("PROFITEER_WAREHOUSE_DB")),
        "shop_store": PostgresResource(database=dg.EnvVar("PROFITEER_SHOP_DB")),
    }
