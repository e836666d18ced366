"""The shop's catalog and the generator's seed, as configuration of the run; the shop's store."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.synth.models import DEFAULT_SEED


class CatalogResource(dg.ConfigurableResource):
    """The products to simulate: the shipped default catalog unless `path` names a JSON file."""

    path: str | None = None
    seed: int = DEFAULT_SEED

    def products(self) -> list:
        """Validated products; a bad catalog raises CatalogError naming each product and field."""
        from profiteer_pipeline.synth import load_default_catalog, validate_catalog

        if self.path is None:
            return load_default_catalog()
        raw = json.loads(Path(self.path).read_text())
        return validate_catalog(raw["products"] if isinstance(raw, dict) else raw)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "catalog": CatalogResource(),
            # the shop's own operational store: a separate database, maybe on the same server
            "shop_store": PostgresResource(database=dg.EnvVar("PROFITEER_SHOP_DB")),
        }
    )
