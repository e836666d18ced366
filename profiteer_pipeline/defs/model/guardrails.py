"""The shop's guardrails (`.profiteer/guardrails.toml`) as every advice asset reads them: a file
it cannot use fails the run, naming the key, without a retry (the file must change first)."""

from __future__ import annotations

import dagster as dg

from profiteer_pipeline import settings
from profiteer_pipeline.pricing import guardrails


def load(context: dg.AssetExecutionContext) -> guardrails.Guardrails:
    try:
        rails = guardrails.load(settings.state_dir() / guardrails.FILE_NAME)
    except guardrails.GuardrailsError as exc:
        raise dg.Failure(description=f"guardrails: {exc}", allow_retries=False) from None
    context.log.info(f"guardrails: {rails.describe()}")
    return rails
