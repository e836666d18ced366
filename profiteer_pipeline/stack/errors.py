"""The stack's known failures, under one base class.

Each carries one message that names the cause and the fix. The CLI catches `StackError` and prints
that message without a traceback, so a new failure type only has to derive from it.
"""

from __future__ import annotations


class StackError(RuntimeError):
    """A known failure of the stack manager: one clear message, no traceback."""


class ServiceError(StackError):
    """A service failed to start or stop; the message names the service, its log and the cause."""


class PostgresError(StackError):
    """The embedded PostgreSQL server did not start or stop as asked."""


class MindsDBNotInstalled(StackError):
    """The MindsDB environment is missing or its install was interrupted; the message has the fix."""


class MainJobError(StackError):
    """The main job failed: the message names the run or backfill and its page in the Dagster UI."""
