"""The default catalog: 15 products (P001-P015, five per category) shipped as package data."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from profiteer_pipeline.synth.models import Product, validate_catalog

DEFAULT_CATALOG_FILE = "default_catalog.json"


@lru_cache(maxsize=1)
def _default_catalog() -> tuple[Product, ...]:
    text = resources.files(__package__).joinpath(DEFAULT_CATALOG_FILE).read_text(encoding="utf-8")
    return tuple(validate_catalog(json.loads(text)))


def load_default_catalog() -> list[Product]:
    """The 15 default products, validated (a fresh list; the products themselves are frozen)."""
    return list(_default_catalog())
