"""An import as a source (`sources.base.Source`): its capabilities read off what its file held,
as the import's summary records it (the columns found, the currency given)."""

from __future__ import annotations

from collections.abc import Mapping

from profiteer_pipeline.sources.base import Capabilities, Source
from profiteer_pipeline.sources.files.names import schema_name

FUNNEL_FIELDS = ("views", "cart_adds")


def capabilities(summary: Mapping) -> Capabilities:
    """A file's columns decide: the funnel where it had views or cart adds, profit where it had
    unit costs. No file carries a catalog's price bounds nor time-of-day buckets."""
    columns = summary.get("columns") or {}
    return Capabilities(
        funnel=any(f in columns for f in FUNNEL_FIELDS),
        unit_costs="unit_cost" in columns,
        currency=summary.get("currency") or None,
    )


def source(name: str, file_name: str | None, summary: Mapping) -> Source:
    label = f"Import: {name}" + (f" · {file_name}" if file_name else "")
    return Source(
        name=name,
        kind="file",
        label=label,
        capabilities=capabilities(summary),
        schema=schema_name(name),
        products=(schema_name(name), "products"),
        results=schema_name(name),
    )
