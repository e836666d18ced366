"""The Airbyte sync behind one interface: `raw_sales` calls `airbyte.sync_window(context, start, end)`.

Which Airbyte runs it (PyAirbyte in-process, or an Airbyte server) is the `airbyte` resource's
choice (`resources.py`), so the asset graph is always synthetic_sales -> raw_sales -> sales.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg


def iso_hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SyncResult:
    """What one window's sync did, for the run log and the asset's metadata."""

    rows: int  # records now in airbyte_raw.sales for the window
    seconds: float
    mode: str
    source: str  # where the records came from (no credentials)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class AirbyteSync(dg.ConfigurableResource):
    """One interface: sync the hours [start, end) of the shop's `sales` stream into airbyte_raw."""

    def sync_window(
        self, context: dg.AssetExecutionContext, start: datetime, end: datetime
    ) -> SyncResult:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError
