"""Every source's model is one kind of Dagster asset, made by `model_asset`.

The asset opens MindsDB (failing fast, naming the URL, when it is down), runs the source's
training at its grain, prunes the old versions of the model and of its held-out twin, and
reports what every model reports: the same metadata (`run_metadata`) and the same check,
`beats_baseline` (`baseline_check`, by the grain's `figures.Yardstick`). A source supplies only
what its grain needs (`Train`, returning `Trained`): the shop's hourly model, held out a day
(`defs/model/assets.py`), an import's daily model in weekly folds with its advice
(`defs/files/model.py`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from profiteer_pipeline.defs.model import baseline_check, run_metadata
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model.figures import Yardstick

if TYPE_CHECKING:
    from profiteer_pipeline.model.client import MindsDBClient
    from profiteer_pipeline.model.held_out import Evaluation
    from profiteer_pipeline.model.spec import ModelSpec
    from profiteer_pipeline.model.training import TrainingResult


@dataclass
class Trained:
    """What a source's training did: the model and its twin, the final training, the backtest,
    and what only this source's grain reports (its own metadata and checks)."""

    spec: "ModelSpec"
    twin: "ModelSpec"
    training: "TrainingResult"
    evaluation: "Evaluation"
    metadata: Mapping[str, object] = field(default_factory=dict)
    checks: Sequence[dg.AssetCheckResult] = ()


#: (context, client, mindsdb, warehouse, config or None) -> Trained
Train = Callable[
    [dg.AssetExecutionContext, "MindsDBClient", MindsDBResource, PostgresResource, Any], Trained
]


def model_asset(
    *,
    key: dg.AssetKey,
    yardstick: Yardstick,
    train: Train,
    keep_versions: int,
    check_specs: Sequence[dg.AssetCheckSpec] = (),
    config: type[dg.Config] | None = None,
    **asset: Any,
) -> dg.AssetsDefinition:
    """The asset `key` whose materialization is `train` at the `yardstick`'s grain, checked by
    `beats_baseline` and `check_specs` (the checks `train` emits), with run `config` if given;
    `asset` holds the rest of `dg.asset`'s arguments (deps, group, partitions, automation,
    description)."""

    def materialize(context, mindsdb, warehouse, run_config) -> dg.MaterializeResult:
        with mindsdb.session() as client:  # fails fast, naming the URL, when MindsDB is down
            done = train(context, client, mindsdb, warehouse, run_config)
            dropped = [
                *client.drop_versions(done.spec.name, keep_versions, done.spec.project),
                *client.drop_versions(done.twin.name, keep_versions, done.spec.project),
            ]
        if dropped:
            context.log.info(
                f"dropped {len(dropped)} old model versions (keeping {keep_versions} of each)"
            )
        ev = done.evaluation
        context.log.info(
            f"{done.spec.qualified_name} v{done.training.version.version} ready "
            f"(engine {done.spec.engine})"
        )
        return dg.MaterializeResult(
            metadata={
                **done.metadata,
                **run_metadata.model(done.spec, done.training),
                **run_metadata.evaluation(ev),
            },
            check_results=[
                *done.checks,
                baseline_check.result(ev.figures, yardstick, ev.summary(), ev.rows),
            ],
        )

    decorate = dg.asset(
        key=key,
        kinds={"mindsdb"},
        check_specs=[*check_specs, baseline_check.spec(key, yardstick)],
        **asset,
    )
    if config is None:

        def model(
            context: dg.AssetExecutionContext, mindsdb: MindsDBResource, warehouse: PostgresResource
        ) -> dg.MaterializeResult:
            return materialize(context, mindsdb, warehouse, None)

    else:
        # no `from __future__ import annotations` here: Dagster reads this annotation, the
        # source's own config class, as a class
        def model(
            context: dg.AssetExecutionContext,
            config: config,  # type: ignore[valid-type]
            mindsdb: MindsDBResource,
            warehouse: PostgresResource,
        ) -> dg.MaterializeResult:
            return materialize(context, mindsdb, warehouse, config)

    return decorate(model)
