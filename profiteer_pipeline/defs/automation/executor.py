"""Every run executes its steps in one process, the automation's runs included; runs log at INFO.

The multiprocess executor would re-import the code location for each step (20-60 s each on a busy
2-core machine, for about a second of work); partitions still run in parallel as separate runs.

The console logger of every job prints INFO and above: Dagster's default console logger prints
every DEBUG event (about 240 lines for one `dagster asset materialize` of the hourly job). This
changes only what a run prints; the instance's event log still records every event, and the UI's
run page shows them all.
"""

import dagster as dg

defs = dg.Definitions(
    executor=dg.in_process_executor,
    loggers={"console": dg.colored_console_logger.configured({"log_level": "INFO"})},
)
