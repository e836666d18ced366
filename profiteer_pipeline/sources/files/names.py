"""An import's name: the Dagster partition key and the warehouse schema `import_<name>`."""

from __future__ import annotations

import re
from pathlib import Path

from profiteer_pipeline.sources.base import SHOP
from profiteer_pipeline.sources.files.errors import ImportRefused

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SCHEMA_PREFIX = "import_"


def validate_name(name: str) -> str:
    """A lower-case identifier (letter first; letters, digits, underscores; at most 40), other
    than the simulated shop's."""
    if name == SHOP.name:
        raise ImportRefused(
            f"import name {name!r} is the simulated shop's: choose another, e.g. --name my_shop"
        )
    if not NAME_PATTERN.fullmatch(name or ""):
        raise ImportRefused(
            f"import name {name!r} is not valid: use a lower-case letter, then letters, digits or "
            "underscores (at most 40), e.g. --name online_retail"
        )
    return name


def name_from_path(path: str | Path) -> str:
    """`Online Retail 2011.xlsx` -> `online_retail_2011` (the file's stem as an identifier)."""
    stem = Path(path).name.split(".")[0]
    name = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")[:40].rstrip("_")
    if not name:
        raise ImportRefused(f"cannot name an import after {Path(path).name!r}: pass --name")
    if not name[0].isalpha():
        name = ("f_" + name)[:40]
    return validate_name(name)


def schema_name(name: str) -> str:
    return SCHEMA_PREFIX + validate_name(name)


def mapping_path(inbox: Path, name: str) -> Path:
    """A mapping travels beside its file in the inbox as `<name>.mapping.yaml`."""
    return inbox / f"{name}.mapping.yaml"


def is_mapping(path: Path) -> bool:
    return path.name.endswith(".mapping.yaml")
