"""`beats_baseline`, the check every source's model answers to: out of sample, below the trailing
mean a forecaster would use, on both RMSSE and Poisson deviance; otherwise the source advises no
price (`advice_table.no_advice_reason`). The shop's `sales_forecast` and an import's
`import_forecast` declare and emit it the same way, each with its grain's `Yardstick`."""

from collections.abc import Mapping

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.model.figures import DECIDING, METRIC_FIELDS, Yardstick

NAME = "beats_baseline"


def spec(asset: dg.AssetKey | str, yardstick: Yardstick) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        NAME,
        asset=asset,
        description=f"Out of sample ({yardstick.how}), the model is below the "
        f"{yardstick.baseline} on both {' and '.join(m.replace('_', ' ') for m in DECIDING)}; "
        "otherwise no price is advised. A model that could not be evaluated warns, and advises "
        "no price either.",
    )


def result(
    figures: Mapping[str, float | None] | None, yardstick: Yardstick, summary: str, rows: int
) -> dg.AssetCheckResult:
    """The check's result for `figures` (`METRIC_FIELDS`; None when not evaluated), described
    by the verdict's own sentence, or `summary` when the model wins."""
    from profiteer_pipeline.pricing.advice_table import no_advice_reason

    reason = no_advice_reason(figures, yardstick)
    evaluated = reason != yardstick.not_evaluated()
    return dg.AssetCheckResult(
        check_name=NAME,
        passed=reason is None,
        severity=dg.AssetCheckSeverity.ERROR if evaluated else dg.AssetCheckSeverity.WARN,
        description=reason or summary,
        metadata={
            **{f: previews.rounded((figures or {}).get(f)) for f in METRIC_FIELDS},
            "rows": rows,
        },
    )
