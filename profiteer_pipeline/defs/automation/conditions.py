"""How the unpartitioned assets keep themselves fresh: declarative automation conditions.

The hourly load is driven by its schedule (or a backfill); everything downstream of it that is not
partitioned follows by itself, so a fresh deployment reaches a trained model with no command.
Dagster's `eager()` and `on_missing()` do not fit here: they only react to assets that become
missing after the condition is first evaluated (not to ones missing from the start), and a gap in
an hourly input's history would block them for ever.
"""

import dagster as dg

AC = dg.AutomationCondition


def _settled() -> dg.AutomationCondition:
    """No input and not the asset itself is being materialized right now."""
    return ~AC.any_deps_in_progress() & ~AC.in_progress()


def keep_fresh() -> dg.AutomationCondition:
    """Materialize when missing, and again each time an input was updated.

    A missing asset whose latest run failed waits for an input to update (or for a person): it
    is not requested again on every tick.
    """
    missing = AC.missing() & ~AC.execution_failed()
    return ((missing | AC.any_deps_updated()).since_last_handled() & _settled()).with_label(
        "missing (and not failed) or an input updated"
    )


def follow_inputs() -> dg.AutomationCondition:
    """As `keep_fresh`, once an input holds data (an hour of `sales`, say): a view or table built
    on an empty input would only hand an empty training set to what follows."""
    return (keep_fresh() & AC.any_deps_match(~AC.missing())).with_label(
        "an input has data, and it is missing or an input updated"
    )


def first_model() -> dg.AutomationCondition:
    """While the model does not exist: train it each time its training data was updated.

    Later trainings are the retraining sensor's (enough new hours, a degraded error, daily).
    Inputs requested in the same tick count as not ready: the model waits for their run.
    """
    inputs_ready = ~AC.any_deps_match(AC.missing() | AC.will_be_requested())
    return (
        AC.missing() & AC.any_deps_updated().since_last_handled() & inputs_ready & _settled()
    ).with_label("no model yet, and its training data updated")


def after_training(model: dg.AssetKey) -> dg.AutomationCondition:
    """Rebuild after every training of `model` (and once when missing while the model exists);
    the hourly inputs it also reads do not trigger it: the recommendations follow the model."""
    model_only = dg.AssetSelection.keys(model)
    model_updated = AC.any_deps_updated().allow(model_only)
    model_exists = AC.any_deps_match(~AC.missing()).allow(model_only)
    trigger = (AC.missing() & model_exists) | model_updated
    settled = ~AC.any_deps_match(AC.in_progress()).allow(model_only) & ~AC.in_progress()
    return (trigger.since_last_handled() & model_exists & settled).with_label(
        "the model was trained (or this is missing and a model exists)"
    )


def follow_inputs_together() -> dg.AutomationCondition:
    """`follow_inputs` for the assets of one step that cannot be split (the metric tables' multi-
    asset): one whose inputs are that step's own assets is requested along with them."""
    return (follow_inputs() | AC.any_deps_match(AC.will_be_requested())).with_label(
        "as its inputs (an input has data, and it is missing or an input updated), or an input"
        " is requested now"
    )
