"""Every run executes its steps in one process, the automation's runs included.

The multiprocess executor would re-import the code location for each step (20-60 s each on a busy
2-core machine, for about a second of work); partitions still run in parallel as separate runs.
"""

import dagster as dg

defs = dg.Definitions(executor=dg.in_process_executor)
