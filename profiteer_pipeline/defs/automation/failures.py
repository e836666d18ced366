"""What a failed run leaves in the daemon's log: one summary per failed run."""

import dagster as dg


def _step_error(event: dg.DagsterEvent) -> str:
    """The first line of a step's error: a dg.Failure's description, else `ErrorClass: message`."""
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description.strip().splitlines()[0]
    error = getattr(data, "error", None)
    if error is None:
        return event.message or "(no error message)"
    text = (error.message or "").strip()
    qualified, sep, rest = text.partition(": ")
    if sep and qualified.endswith(error.cls_name or "\0"):
        text = f"{error.cls_name}: {rest}"
    return text.splitlines()[0] if text else error.cls_name or "(no error message)"


def failure_summary(context: dg.RunFailureSensorContext) -> str:
    """One paragraph: job, run id, the failed steps and their errors (or the run's error)."""
    run = context.dagster_run
    lines = [f"run {run.run_id} of job {run.job_name} failed"]
    if run.tags.get("dagster/partition"):
        lines[0] += f" (partition {run.tags['dagster/partition']})"
    steps = context.get_step_failure_events()
    for event in steps:
        lines.append(f"step {event.step_key}: {_step_error(event)}")
    if not steps:
        lines.append(f"error: {context.failure_event.message}")
    return "\n".join(lines)


@dg.run_failure_sensor(
    name="run_failure_summary",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs a summary of each failed run: job, run id, failed steps, error message.",
)
def run_failure_summary(context: dg.RunFailureSensorContext) -> None:
    context.log.error(failure_summary(context))
