"""The shop's guardrails (`.profiteer/guardrails.toml`) as every advice asset reads them: a file
it cannot use fails the run, naming the key, without a retry (the file must change first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from profiteer_pipeline.pricing.guardrails import Guardrails


def load(context: dg.AssetExecutionContext) -> Guardrails:
    from profiteer_pipeline import settings
    from profiteer_pipeline.pricing import guardrails  # numpy: at run time, not at load

    try:
        rails = guardrails.load(settings.state_dir() / guardrails.FILE_NAME)
    except guardrails.GuardrailsError as exc:
        raise dg.Failure(description=f"guardrails: {exc}", allow_retries=False) from None
    context.log.info(f"guardrails: {rails.describe()}")
    return rails
