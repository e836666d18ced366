"""The simulated shop: catalog models, the default catalog and the deterministic sales generator.

Pure (no Dagster): the assets, the shop API, the CLI and the tests all import from here.
"""

from profiteer_pipeline.synth.catalog import load_default_catalog
from profiteer_pipeline.synth.constants import RATING_EPOCH_HOURS
from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.synth.generator import empty_sales_frame, generate_sales, generate_window
from profiteer_pipeline.synth.models import (
    DEFAULT_CATEGORY_POPULARITY,
    DEFAULT_SEED,
    MAX_HOURS,
    MAX_ROWS,
    CatalogError,
    Product,
    SalesRequest,
    validate_catalog,
)

__all__ = [
    "DEFAULT_CATEGORY_POPULARITY",
    "DEFAULT_SEED",
    "MAX_HOURS",
    "MAX_ROWS",
    "RATING_EPOCH_HOURS",
    "RECORD_FIELDS",
    "CatalogError",
    "Product",
    "SalesRequest",
    "empty_sales_frame",
    "generate_sales",
    "generate_window",
    "load_default_catalog",
    "validate_catalog",
]
