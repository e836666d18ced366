"""Resources: one interface per external system; the environment picks the implementation."""

from __future__ import annotations

import dagster as dg

from profiteer_pipeline.resources.airbyte import build_airbyte
from profiteer_pipeline.resources.catalog import CatalogResource
from profiteer_pipeline.resources.mindsdb import MindsDBResource
from profiteer_pipeline.resources.postgres import PostgresResource


def build_resources() -> dict[str, object]:
    """The resources for `profiteer_pipeline.definitions`, chosen from the environment."""
    return {
        "catalog": CatalogResource(),
        "warehouse": PostgresResource(database=dg.EnvVar("PROFITEER_WAREHOUSE_DB")),
        "shop_store": PostgresResource(database=dg.EnvVar("PROFITEER_SHOP_DB")),
        # embedded PyAirbyte, or an Airbyte server when AIRBYTE_REST_API_BASE_URL etc. are set
        "airbyte": build_airbyte(PostgresResource(database=dg.EnvVar("PROFITEER_WAREHOUSE_DB"))),
        # MINDSDB_URL (default: the embedded server), the warehouse as its datasource
        "mindsdb": MindsDBResource.from_env(),
    }
