"""The asset graph as a reviewed snapshot (as dagster-open-platform does).

`tests/snapshots/asset_graph.json` holds every asset's key, deps, group, kinds, partitions,
automation condition and checks, plus the jobs, schedules and sensors. A change to the graph
fails this test until the snapshot is rewritten (`PROFITEER_UPDATE_SNAPSHOTS=1 pytest
tests/test_asset_graph.py`), so it shows up as a diff in review.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from profiteer_pipeline.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(part: dg.PartitionsDefinition | None) -> str | None:
    if part is None:
        return None
    if isinstance(part, dg.TimeWindowPartitionsDefinition):
        return f"{type(part).__name__}(start={part.start.isoformat()}, cron={part.cron_schedule})"
    return type(part).__name__


def graph_snapshot(definitions: dg.Definitions) -> dict:
    graph = definitions.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        mark = " (blocking)" if spec.blocking else ""
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name + mark)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        condition = node.automation_condition
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "partitions": _partitions(node.partitions_def),
            "automation_condition": None if condition is None else condition.get_label(),
            "checks": sorted(checks.get(key.to_user_string(), [])),
        }
    repo = definitions.get_repository_def()
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_asset_graph_matches_the_reviewed_snapshot():
    current = graph_snapshot(defs)
    text = json.dumps(current, indent=1, sort_keys=True) + "\n"
    if os.environ.get("PROFITEER_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"no snapshot yet: run with PROFITEER_UPDATE_SNAPSHOTS=1 ({SNAPSHOT})"
    assert json.loads(SNAPSHOT.read_text()) == current, (
        "the asset graph changed: review the diff, then rewrite the snapshot with "
        "PROFITEER_UPDATE_SNAPSHOTS=1 pytest tests/test_asset_graph.py"
    )


def test_the_snapshot_notices_a_changed_graph():
    """The same location without `sales_features` does not match: the snapshot can fail."""
    reviewed = json.loads(SNAPSHOT.read_text())
    changed = dg.Definitions(
        assets=[a for a in defs.assets if dg.AssetKey("sales_features") not in a.keys],
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources=defs.resources,
    )
    snapshot = graph_snapshot(changed)
    assert snapshot != reviewed
    assert "sales_features" in reviewed["assets"]
    assert snapshot["assets"]["sales_forecast"]["deps"] == ["sales_features"]  # now external


def test_every_asset_has_a_group_and_kinds():
    for name, asset in graph_snapshot(defs)["assets"].items():
        assert asset["group"] in {"shop", "ingest", "warehouse", "metrics", "model", "imports"}, (
            name
        )
        assert asset["kinds"], name
