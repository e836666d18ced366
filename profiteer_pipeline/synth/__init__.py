"""The simulated shop: catalog models, the default catalog and the deterministic sales generator.

Pure (no Dagster): the assets, the shop API, the CLI and the tests all import from here.
The generator (numpy, pandas) is imported on first use of one of its names, so the code location
and the catalog's models load without them.
"""

from typing import TYPE_CHECKING

from profiteer_pipeline.synth.catalog import load_default_catalog
from profiteer_pipeline.synth.constants import RATING_EPOCH_HOURS
from profiteer_pipeline.synth.fields import RECORD_FIELDS
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

if TYPE_CHECKING:
    from profiteer_pipeline.synth.generator import (
        empty_sales_frame,
        generate_sales,
        generate_window,
    )

_GENERATOR_NAMES = ("empty_sales_frame", "generate_sales", "generate_window")


def __getattr__(name: str):
    if name in _GENERATOR_NAMES:
        from profiteer_pipeline.synth import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
