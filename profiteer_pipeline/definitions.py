"""The code location: `dagster ... -m profiteer_pipeline.definitions` and workspace.yaml load this.

Everything Dagster runs lives under `profiteer_pipeline/defs/<domain>/` and is found there, so no
list of assets, checks, jobs, schedules or sensors is kept by hand.

Each module under `defs/` is read by the rule `dg.load_from_defs_folder` applies to a plain
Python file: its module-level `dg.Definitions` object if it has one, else the
`@dg.definitions` functions it defines, else its module-level Dagster objects (assets, checks,
jobs, schedules, sensors). The folder loader itself is not used: it also imports every installed
Dagster plugin to describe their component types, which costs about half a second of every
load and adds nothing this project uses.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from types import ModuleType

import dagster as dg

from profiteer_pipeline import defs as defs_package


def _modules(package: ModuleType) -> list[ModuleType]:
    """Every module under `package`, in name order (packages' own `__init__` included)."""
    found = [package]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        found.append(importlib.import_module(info.name))
    return sorted(found, key=lambda module: module.__name__)


def _empty() -> dg.Definitions:
    return dg.Definitions()


# What `@dg.definitions` turns a function into (its class is not exported by name).
_DEFINITIONS_FUNCTION = type(dg.definitions(_empty))


def _is_definitions_function(value: object) -> bool:
    return isinstance(value, _DEFINITIONS_FUNCTION)


def module_definitions(module: ModuleType) -> dg.Definitions:
    """What `dg.load_from_defs_folder` takes from one Python module of the defs folder."""
    values = list(vars(module).values())
    objects = [value for value in values if isinstance(value, dg.Definitions)]
    functions = [value for value in values if _is_definitions_function(value)]
    if objects and functions:
        raise dg.DagsterInvalidDefinitionError(
            f"{module.__name__}: both a Definitions object and @dg.definitions functions"
        )
    if len(objects) > 1:
        raise dg.DagsterInvalidDefinitionError(f"{module.__name__}: several Definitions objects")
    if objects:
        return objects[0]
    if functions:
        return dg.Definitions.merge(*(function() for function in functions))
    with warnings.catch_warnings():
        # The folder loader calls this too, with the same warning silenced.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.load_definitions_from_module(module)


defs = dg.Definitions.merge(*(module_definitions(module) for module in _modules(defs_package)))
