"""The training procedure: CREATE or RETRAIN, wait, evaluate on held-out hours, probe prices.

Pure module (no Dagster): the asset calls it with the run's logger, the benchmark with print.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from profiteer_pipeline.model import engine, evaluation, features
from profiteer_pipeline.model.client import MindsDBClient, MindsDBError, ModelVersion
from profiteer_pipeline.model.spec import ModelSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    version: ModelVersion
    action: str  # "created" | "retrained" | "recreated"
    seconds: float


def train(
    client: MindsDBClient,
    spec: ModelSpec,
    *,
    before: datetime | None = None,
    since: datetime | None = None,
    timeout: float = 900.0,
    log: Log = print,
) -> TrainingResult:
    """CREATE the model on first use, RETRAIN it afterwards; wait until the new version is done.

    A model left with no usable version (its only training failed) is dropped and created
    again. A failed training raises MindsDBError with MindsDB's error text. The count model's
    engine is uploaded first where MindsDB does not have it yet.
    """
    start = time.monotonic()
    if spec.counts:
        engine.ensure(client)
    existing = client.versions(spec.name, spec.project)
    for busy in [v for v in existing if not v.finished]:
        # another run is training this model: let it finish first, then train on top of it
        log(f"{spec.qualified_name} v{busy.version} is {busy.status}: waiting for it first")
        try:
            client.wait_for_training(spec.name, busy.version, project=spec.project, timeout=timeout)
        except MindsDBError as exc:
            log(f"that training ended badly ({exc}); continuing")
        existing = client.versions(spec.name, spec.project)
    previous = max((v.version for v in existing), default=0)
    if not existing:
        action = "created"
        client.query(spec.create(before, since))
    elif not any(v.active and v.status == "complete" for v in existing) and not any(
        not v.finished for v in existing
    ):
        action = "recreated"
        log(f"{spec.qualified_name} has no trained version: dropping it and creating it again")
        client.query(f"DROP MODEL IF EXISTS {spec.qualified_name}")
        previous = 0
        client.query(spec.create(before, since))
    else:
        action = "retrained"
        client.query(spec.retrain(before, since))
    new = [v for v in client.versions(spec.name, spec.project) if v.version > previous]
    if not new:
        raise MindsDBError(
            f"MindsDB accepted the training of {spec.qualified_name} but shows no new version"
        )
    version = new[-1].version
    log(f"{action} {spec.qualified_name}: training version {version}")

    def report(v: ModelVersion, elapsed: float) -> None:
        phase = f" ({v.phase})" if v.phase else ""
        log(f"{spec.qualified_name} v{v.version}: {v.status}{phase} after {elapsed:.0f}s")

    done = client.wait_for_training(
        spec.name, version, project=spec.project, timeout=timeout, on_status=report
    )
    return TrainingResult(done, action, time.monotonic() - start)


def held_out_predictions(
    client: MindsDBClient, spec: ModelSpec, since: datetime, before: datetime | None = None
) -> pd.DataFrame:
    """The model's predictions for the rows in [since, before), with the actual target.

    One batch JOIN in MindsDB over the warehouse datasource. Columns: the key columns,
    `actual`, `predicted`.
    """
    df = client.query(spec.predict_rows(since, before))
    if df.empty:
        return pd.DataFrame(columns=[*spec.key_columns, "actual", "predicted"])
    df = df.rename(columns={spec.target: "actual"})
    df["actual"] = pd.to_numeric(df["actual"], errors="coerce")
    df["predicted"] = pd.to_numeric(df["predicted"], errors="coerce")
    return df.dropna(subset=["actual", "predicted"]).reset_index(drop=True)


def predict_frame(client: MindsDBClient, spec: ModelSpec, inputs: pd.DataFrame) -> pd.Series:
    """Predicted target for each row of `inputs` (its feature columns), in one call."""
    out = client.predict(spec.name, inputs[list(spec.features)], project=spec.project)
    if len(out) != len(inputs) or spec.target not in out:
        raise MindsDBError(
            f"{spec.qualified_name} returned {len(out)} predictions for {len(inputs)} rows"
        )
    return pd.to_numeric(out[spec.target], errors="coerce").set_axis(inputs.index)


def predict_batches(
    client: MindsDBClient, spec: ModelSpec, inputs: pd.DataFrame, batch: int = 10_000
) -> pd.Series:
    """`predict_frame` over `inputs` in batches of `batch` rows (one call each), in order."""
    return pd.concat(
        [
            predict_frame(client, spec, inputs.iloc[i : i + batch])
            for i in range(0, len(inputs), batch)
        ]
    )


def price_response_grid(
    client: MindsDBClient,
    spec: ModelSpec,
    profiles: pd.DataFrame,
    price_ranges: Mapping[str, tuple[float, float]],
    points: int = 21,
) -> pd.DataFrame:
    """Predictions over each (product, bucket) profile's price range: the what-if curves."""
    grid = features.grid_frame(profiles, price_ranges, spec.features, points)
    if grid.empty:
        return grid
    grid["predicted"] = predict_frame(client, spec, grid)
    return grid


def check_price_response(grid: pd.DataFrame) -> evaluation.PriceResponse:
    return evaluation.price_response(grid, ["product_id", "bucket"])
