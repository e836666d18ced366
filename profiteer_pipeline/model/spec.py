"""What a model is: its name, inputs, target and training options (the shop's `sales_forecast`
by default; an import's from `forecast.import_spec`), on the count model every source trains.

Pure module (no Dagster). The asset, the app and the benchmark build their SQL from one
`ModelSpec`, so the features the app sends are the ones the model was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from profiteer_pipeline.model import engine as count_engine
from profiteer_pipeline.model import sql

#: Feature sets compared on held-out data (`benchmarks/bench_model.py --compare-features`).
ORIGINAL_FEATURES = ("views", "cart_adds", "price_ratio", "popularity_factor")
CONTEXT_FEATURES = (*ORIGINAL_FEATURES, "time_of_day_bucket", "category")
FULL_FEATURES = (*CONTEXT_FEATURES, "hour_of_day", "rating")

#: The chosen inputs: the original four. Measured on 30 days of the default catalog, held-out =
#: the latest 24 hours (`benchmarks/bench_model.py --compare-features`, 2 busy cores):
#:   original four                     MAE 4.59  R² 0.992  training  9 s
#:   + time_of_day_bucket, category    MAE 4.59  R² 0.992  training 39 s
#:   + those, hour_of_day, rating      MAE 4.49  R² 0.992  training 39 s
#:   cart_adds, price_ratio only       MAE 4.57  R² 0.992  training  2 s
#: (all four pass the price-response check; an earlier run: 5.38 / 5.31 / 5.32 / 5.19, training
#: 8 / 76 / 103 / 8 s, the context sets with bumpier price curves). The context columns do not
#: lower the error: in the simulation purchases depend on cart_adds and the price only, and
#: cart_adds already carries the time of day, the category and the rating. They cost 4-10x the
#: training time, so they are left out; the original four keep the original's inputs.
FEATURES = ORIGINAL_FEATURES

#: lightwood's mixers, for the comparisons only (`lightwood()`), without `Neural`: it was never
#: selected on this data (XGBoost won every time, R² 0.99 vs 0.87-0.96 for Neural) and took
#: 6-400 s on 3,240 rows (and had not finished after 650 s on 10,800).
MIXERS = ("XGBoostMixer", "RandomForest", "Regression")


@dataclass(frozen=True)
class ModelSpec:
    name: str = "sales_forecast"
    project: str = "mindsdb"
    datasource: str = "profiteer_warehouse"
    table: str = "sales_features"
    schema: str = "public"
    target: str = "purchases"
    features: tuple[str, ...] = FEATURES
    engine: str = count_engine.NAME  # the count model every source trains (`model.engine`)
    mixers: tuple[str, ...] = ()
    ts_column: str = "timestamp"
    key_columns: tuple[str, ...] = ("product_id", "timestamp")
    extra: dict[str, str] = field(default_factory=count_engine.using)

    def __post_init__(self) -> None:
        for name in (self.name, self.project, self.datasource, self.table, self.schema):
            sql.identifier(name)
        for column in (*self.features, self.target, self.ts_column, *self.key_columns):
            sql.identifier(column, "column")
        if self.target in self.features:
            raise sql.SqlValueError(f"target {self.target!r} is also listed as a feature")

    @property
    def qualified_name(self) -> str:
        return f"{self.project}.{self.name}"

    def with_name(self, name: str) -> ModelSpec:
        """The same model under another name (the held-out evaluation model)."""
        return replace(self, name=name)

    def reading(self, datasource: str) -> ModelSpec:
        """The same model reading from `datasource`: the generation `ensure_datasource` named."""
        return replace(self, datasource=datasource)

    def lightwood(self, mixers: tuple[str, ...] = MIXERS) -> ModelSpec:
        """The same model on lightwood's `mixers` (all of lightwood's with ()): a comparison."""
        return replace(self, engine="lightwood", mixers=mixers, extra={})

    @property
    def counts(self) -> bool:
        """Whether it trains the count model (whose engine `training.train` makes sure of)."""
        return self.engine == count_engine.NAME

    def options(self) -> dict[str, str]:
        """The USING options besides the engine: lightwood's mixer list, as JSON text."""
        opts = dict(self.extra)
        if self.mixers and self.engine == "lightwood":
            budget = "$problem_definition.seconds_per_mixer"
            submodels = [
                {
                    "module": sql.identifier(m, "mixer"),
                    "args": {"stop_after": budget}
                    | ({} if m == "Regression" else {"fit_on_dev": True}),
                }
                for m in self.mixers
            ]
            opts["model.args"] = json.dumps({"submodels": submodels})
        return opts

    def training_select(self, before: datetime | None = None, since: datetime | None = None) -> str:
        """The training rows: the features and the target, optionally only in [since, before)."""
        return sql.select_rows(
            self.table,
            [*self.features, self.target],
            ts_column=self.ts_column,
            before=before,
            since=since,
            schema=self.schema,
        )

    def create(self, before: datetime | None = None, since: datetime | None = None) -> str:
        return sql.create_model(
            self.project,
            self.name,
            self.datasource,
            self.training_select(before, since),
            self.target,
            self.engine,
            self.options(),
        )

    def retrain(self, before: datetime | None = None, since: datetime | None = None) -> str:
        return sql.retrain_model(
            self.project,
            self.name,
            self.datasource,
            self.training_select(before, since),
            self.engine,
            self.options(),
        )

    def predict_rows(self, since: datetime, before: datetime | None = None) -> str:
        """Batch prediction (JOIN) of the rows in [since, before), with keys and actual target."""
        columns = list(dict.fromkeys([*self.key_columns, *self.features, self.target]))
        select = sql.select_rows(
            self.table, columns, ts_column=self.ts_column, since=since, before=before,
            schema=self.schema,
        )  # fmt: skip
        return sql.predict_join(
            self.project,
            self.name,
            self.target,
            self.datasource,
            select,
            passthrough=[*self.key_columns, self.target],
        )

    def predict_one(self, row: dict[str, object]) -> str:
        missing = [f for f in self.features if f not in row]
        if missing:
            raise sql.SqlValueError(f"prediction input lacks {', '.join(missing)}")
        return sql.predict_where(
            self.project, self.name, self.target, {f: row[f] for f in self.features}
        )


DEFAULT_SPEC = ModelSpec()
HOLDOUT_SUFFIX = "_holdout"
