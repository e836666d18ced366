"""The one model every source trains: `count_model` (a count objective, demand that never rises
with the price), which MindsDB hosts as a BYOM engine named after its code.

The simulated shop's `sales_forecast` and each import's `<schema>_forecast` are both `CREATE
MODEL ... USING engine = '<NAME>'`; `training.train` uploads the engine first where MindsDB does
not have it (`MindsDBClient.ensure_engine`). On the shop's held-out day it matches lightwood's
mixers it replaced (R² 0.970 vs 0.951 on 48 hours, 0.991 vs 0.992 on 30 days; training 1.2 s
against 3-13 s: `benchmarks/bench_model.py --lightwood`); on sparse exports lightwood did not
beat the trailing mean where this does (`benchmarks/bench_import_year.py --engine lightwood`).

No heavy imports: the code location loads it (the model's name is in the asset's spec).
"""

from __future__ import annotations

import hashlib
from importlib.util import find_spec
from pathlib import Path
from typing import Protocol


class Engines(Protocol):
    """What uploads an engine: `MindsDBClient` (which names engines by `engine_name`)."""

    def ensure_engine(self, base: str, code: bytes) -> str: ...


BASE = "profiteer_count"
#: the input demand must never rise with: every source's model has the price ratio
DECREASING = "price_ratio"


def engine_name(base: str, code: bytes) -> str:
    """`<base>_<digest of code>`: changed code is a new engine, unchanged code the same one."""
    return f"{base}_{hashlib.blake2b(code, digest_size=5).hexdigest()}"


def _code() -> bytes:
    """The model's source, as MindsDB runs it (read without importing it: numpy, pandas)."""
    origin = find_spec("profiteer_pipeline.model.count_model").origin
    return Path(origin).read_bytes()


#: read once: the engine's name and the code uploaded under it are always the same version
CODE = _code()
NAME = engine_name(BASE, CODE)


def ensure(client: Engines) -> str:
    """The engine in MindsDB (uploaded once per version of the code); its name."""
    return client.ensure_engine(BASE, CODE)


def using(categorical: tuple[str, ...] = ()) -> dict[str, str]:
    """The USING options the count model reads besides the engine."""
    options = {"decreasing": DECREASING}
    if categorical:
        options["categorical"] = ",".join(categorical)
    return options
